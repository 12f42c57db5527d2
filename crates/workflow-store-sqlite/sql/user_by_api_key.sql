SELECT tenant_id, id, role, first_name, last_name, api_key FROM users
WHERE api_key = +?1 ORDER BY tenant_id, id LIMIT 1
