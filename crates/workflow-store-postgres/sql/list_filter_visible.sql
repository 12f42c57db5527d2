-- Visibility::Only: runs the actor triggered, or runs of the definitions it can read (a uuid[]).
AND (triggered_by = $? OR definition_id = ANY($?))
