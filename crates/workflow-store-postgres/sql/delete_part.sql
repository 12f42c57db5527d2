DELETE FROM path_parts WHERE tenant_id = $1 AND id = $2
