INSERT OR REPLACE INTO path_parts (tenant_id, id, kind, name, parent_id, path, approval_state,
                                   approval, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
