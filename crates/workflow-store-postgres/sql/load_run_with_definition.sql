-- A live run and its definition in one round trip (Store::load_run_with_definition): the run's
-- columns as in load_run.sql, then the definition's as in definition.sql (NULLs when missing).
SELECT r.id, r.tenant_id, r.definition_id, r.name, r.triggered_by, r.execution_state, r.approval_state, r.attempt, r.version, r.input_scope, r.selected_skill_ids, r.auto_start, r.auto_start_user_message, r.idempotency_key, r.snapshot, r.started_at, r.attempt_started_at, r.deadline_at, r.completed_at, r.error, r.run_thread_id, r.folders, r.approval, r.created_at, r.updated_at, r.failure,
       d.tenant_id, d.id, d.parent_id, d.path, d.runs_folder_id, d.name, d.instruction_id, d.max_run_duration_seconds, d.approval_required, d.is_active, d.is_template, d.common_file_ids, d.selected_skill_ids, d.owner_id, d.created_at, d.description, d.schedule, d.created_from_id, d.updated_at
FROM runs r
LEFT JOIN definitions d ON d.tenant_id = r.tenant_id AND d.id = r.definition_id
WHERE r.id = $1 AND r.tenant_id = $2
