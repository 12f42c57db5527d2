DELETE FROM versions WHERE tenant_id = $1 AND part_id = $2
