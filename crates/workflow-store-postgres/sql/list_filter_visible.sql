-- Visibility::Only: runs the actor triggered, or runs of a definition whose path one of the
-- actor's grant paths covers (policy::path_covers: '' covers every path, else the path itself or
-- a path below it). Parameters: the actor, the tenant, the paths (a text[]).
AND (triggered_by = $? OR definition_id IN (
    SELECT d.id FROM definitions d
    WHERE d.tenant_id = $? AND EXISTS (
        SELECT 1 FROM unnest($?::text[]) AS g(path)
        WHERE g.path = '' OR d.path = g.path OR starts_with(d.path, g.path || '/'))))
