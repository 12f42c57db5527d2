-- SEC-3: lookup by digest (several tenants could hold one digest: the first by tenant and id).
SELECT tenant_id, id, role, first_name, last_name, api_key_digest FROM users
WHERE api_key_digest = $1 ORDER BY tenant_id, id LIMIT 1
