SELECT id, name FROM tenants WHERE id = $1
