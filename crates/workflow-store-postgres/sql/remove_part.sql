-- A part and its version facts, in one statement.
WITH gone AS (DELETE FROM versions WHERE tenant_id = $1 AND part_id = $2)
DELETE FROM path_parts WHERE tenant_id = $1 AND id = $2
