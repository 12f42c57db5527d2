SELECT id, tenant_id, definition_id, name, triggered_by, execution_state, approval_state, attempt, version, input_scope, selected_skill_ids, auto_start, auto_start_user_message, idempotency_key, snapshot, started_at, attempt_started_at, deadline_at, completed_at, error, run_thread_id, folders, approval, created_at, updated_at, failure
FROM runs WHERE id = $1 AND tenant_id = $2
