-- Version-checked replacement of a live row ($27: the expected version) with the transition's
-- history record ($28..$38, as in insert_history.sql), in one statement. The row is already
-- locked by lock_run.sql; 0 rows would be a version conflict (the caller rolls back).
WITH history AS (
    INSERT INTO history (run_id, seq, tenant_id, from_state, to_state, event, actor_user_id, actor_assumed, at, attempt, reason)
    VALUES ($28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38)
)
UPDATE runs SET
    tenant_id = $2, definition_id = $3, name = $4, triggered_by = $5, execution_state = $6,
    approval_state = $7, attempt = $8, version = $9, input_scope = $10, selected_skill_ids = $11,
    auto_start = $12, auto_start_user_message = $13, idempotency_key = $14, snapshot = $15,
    started_at = $16, attempt_started_at = $17, deadline_at = $18, completed_at = $19,
    error = $20, run_thread_id = $21, folders = $22, approval = $23, created_at = $24,
    updated_at = $25, failure = $26
WHERE id = $1 AND version = $27
