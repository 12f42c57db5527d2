SELECT p.tenant_id, p.id, p.kind, p.name, p.parent_id, p.path, p.approval_state, p.approval, p.created_at, v.ingestion, v.active
FROM path_parts p LEFT JOIN versions v ON v.tenant_id = p.tenant_id AND v.part_id = p.id
WHERE p.tenant_id = $1 AND p.id = $2
