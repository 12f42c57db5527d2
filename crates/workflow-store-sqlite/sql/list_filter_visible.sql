-- Visibility::Only: runs the actor triggered, or runs of the definitions it can read (a JSON
-- array of ids, so that one prepared statement serves any number of them).
AND (triggered_by = +:me OR definition_id IN (SELECT value FROM json_each(+:readable)))
