-- A new run in one statement: its id's tombstone (store requirement 2; the primary key of
-- run_ids is the backstop for two creations of one id racing), its first history record
-- ($27..$37, as in insert_history.sql) and the row ($1..$26).
WITH tombstone AS (INSERT INTO run_ids (id) VALUES ($1)),
history AS (
    INSERT INTO history (run_id, seq, tenant_id, from_state, to_state, event, actor_user_id, actor_assumed, at, attempt, reason)
    VALUES ($27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37)
)
INSERT INTO runs (id, tenant_id, definition_id, name, triggered_by, execution_state, approval_state, attempt, version, input_scope, selected_skill_ids, auto_start, auto_start_user_message, idempotency_key, snapshot, started_at, attempt_started_at, deadline_at, completed_at, error, run_thread_id, folders, approval, created_at, updated_at, failure)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26)
