INSERT OR REPLACE INTO definitions (tenant_id, id, parent_id, path, runs_folder_id, name, instruction_id, max_run_duration_seconds, approval_required, is_active, is_template, common_file_ids, selected_skill_ids, owner_id, created_at, description, schedule, created_from_id, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
