-- Walks parent links (not path prefixes), like the reference adapter.
WITH RECURSIVE sub(id) AS (
    SELECT id FROM path_parts WHERE tenant_id = $1 AND parent_id = $2
    UNION
    SELECT c.id FROM path_parts c JOIN sub ON c.tenant_id = $1 AND c.parent_id = sub.id
)
SELECT p.tenant_id, p.id, p.kind, p.name, p.parent_id, p.path, p.approval_state, p.approval, p.created_at, v.ingestion, v.active
FROM sub
JOIN path_parts p ON p.tenant_id = $1 AND p.id = sub.id
LEFT JOIN versions v ON v.tenant_id = p.tenant_id AND v.part_id = p.id
ORDER BY p.path, p.id
