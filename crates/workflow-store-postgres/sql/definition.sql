SELECT tenant_id, id, parent_id, path, runs_folder_id, name, instruction_id, max_run_duration_seconds, approval_required, is_active, is_template, common_file_ids, selected_skill_ids, owner_id, created_at, description, schedule, created_from_id, updated_at
FROM definitions WHERE tenant_id = $1 AND id = $2
