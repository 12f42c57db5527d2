WITH named AS (
    SELECT * FROM path_parts
    WHERE tenant_id = $1 AND (id = ANY($2) OR parent_id = $3)
)
SELECT n.tenant_id, n.id, n.kind, n.name, n.parent_id, n.path, n.approval_state, n.approval, n.created_at, v.ingestion, v.active
FROM named n LEFT JOIN versions v ON v.tenant_id = n.tenant_id AND v.part_id = n.id
UNION ALL
SELECT p.tenant_id, p.id, p.kind, p.name, p.parent_id, p.path, p.approval_state, p.approval, p.created_at, v.ingestion, v.active
FROM path_parts p JOIN versions v ON v.tenant_id = p.tenant_id AND v.part_id = p.id
WHERE p.tenant_id = $1 AND v.active AND p.kind = 'DOCUMENT_VERSION'
  AND p.parent_id IN (SELECT id FROM named WHERE kind = 'DOCUMENT')
