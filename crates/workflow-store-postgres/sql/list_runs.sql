-- LIST-1. src/list.rs splices the optional sql/list_filter_*.sql fragments in at the FILTERS
-- marker and the ORDER BY clause (one of the three time columns, either direction, NULLs last)
-- at the ORDER marker; every value is a bound parameter.
SELECT id, tenant_id, definition_id, name, triggered_by, execution_state, approval_state, attempt, version, input_scope, selected_skill_ids, auto_start, auto_start_user_message, idempotency_key, snapshot, started_at, attempt_started_at, deadline_at, completed_at, error, run_thread_id, folders, approval, created_at, updated_at, failure
FROM runs
WHERE tenant_id = $1 /*FILTERS*/
ORDER BY /*ORDER*/
LIMIT $? OFFSET $?
