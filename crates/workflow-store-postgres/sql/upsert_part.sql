INSERT INTO path_parts (tenant_id, id, kind, name, parent_id, path, approval_state, approval,
                        created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    kind = EXCLUDED.kind, name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
    path = EXCLUDED.path, approval_state = EXCLUDED.approval_state,
    approval = EXCLUDED.approval, created_at = EXCLUDED.created_at
