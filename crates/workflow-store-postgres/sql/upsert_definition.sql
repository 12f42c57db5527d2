INSERT INTO definitions (tenant_id, id, parent_id, path, runs_folder_id, name, instruction_id, max_run_duration_seconds, approval_required, is_active, is_template, common_file_ids, selected_skill_ids, owner_id, created_at, description, schedule, created_from_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    parent_id = EXCLUDED.parent_id, path = EXCLUDED.path, runs_folder_id = EXCLUDED.runs_folder_id,
    name = EXCLUDED.name, instruction_id = EXCLUDED.instruction_id,
    max_run_duration_seconds = EXCLUDED.max_run_duration_seconds,
    approval_required = EXCLUDED.approval_required, is_active = EXCLUDED.is_active,
    is_template = EXCLUDED.is_template, common_file_ids = EXCLUDED.common_file_ids,
    selected_skill_ids = EXCLUDED.selected_skill_ids, owner_id = EXCLUDED.owner_id,
    created_at = EXCLUDED.created_at, description = EXCLUDED.description,
    schedule = EXCLUDED.schedule, created_from_id = EXCLUDED.created_from_id,
    updated_at = EXCLUDED.updated_at
