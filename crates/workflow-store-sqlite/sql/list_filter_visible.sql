-- Visibility::Only: runs the actor triggered, or runs of a definition whose path one of the
-- actor's grant paths covers (policy::path_covers: '' covers every path, else the path itself or
-- a path below it). The paths are a JSON array, so one prepared statement serves any number.
AND (triggered_by = +:me OR definition_id IN (
    SELECT definitions.id FROM definitions, json_each(+:readable) AS g
    WHERE definitions.tenant_id = +:tenant
      AND (g.value = '' OR definitions.path = g.value
           OR substr(definitions.path, 1, length(g.value) + 1) = g.value || '/')))
