INSERT INTO runs (id, tenant_id, definition_id, name, triggered_by, execution_state, approval_state, attempt, version, input_scope, selected_skill_ids, auto_start, auto_start_user_message, idempotency_key, snapshot, started_at, attempt_started_at, deadline_at, completed_at, error, run_thread_id, folders, approval, created_at, updated_at, failure)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26)
