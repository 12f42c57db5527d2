SELECT tenant_id, id, role, first_name, last_name, api_key_digest FROM users
WHERE tenant_id = $1 AND id = $2
