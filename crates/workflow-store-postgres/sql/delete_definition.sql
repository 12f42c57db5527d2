DELETE FROM definitions WHERE tenant_id = $1 AND id = $2
