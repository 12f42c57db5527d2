-- SEC-3: lookup by digest (several tenants could hold one digest: the first by tenant and id),
-- with the user's grants in the same statement, like user.sql.
SELECT u.tenant_id, u.id, u.role, u.first_name, u.last_name, u.api_key_digest,
       (SELECT coalesce(json_agg(json_build_object('path', g.path, 'capability', g.capability)
                                 ORDER BY g.position), '[]'::json)
        FROM grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id)
FROM users u
WHERE u.api_key_digest = $1 ORDER BY u.tenant_id, u.id LIMIT 1
