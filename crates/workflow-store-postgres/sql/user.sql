-- A user with its grants in one statement (one snapshot, one round trip): column 6 is a JSON
-- array of {path, capability} in grant order.
SELECT u.tenant_id, u.id, u.role, u.first_name, u.last_name, u.api_key_digest,
       (SELECT coalesce(json_agg(json_build_object('path', g.path, 'capability', g.capability)
                                 ORDER BY g.position), '[]'::json)
        FROM grants g WHERE g.tenant_id = u.tenant_id AND g.user_id = u.id)
FROM users u
WHERE u.tenant_id = $1 AND u.id = $2
