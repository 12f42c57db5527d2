SELECT tenant_id, id, role, first_name, last_name, api_key_sha256 FROM users
WHERE api_key_sha256 = +?1 ORDER BY tenant_id, id LIMIT 1
