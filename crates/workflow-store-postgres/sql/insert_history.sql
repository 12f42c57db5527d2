INSERT INTO history (run_id, seq, tenant_id, from_state, to_state, event, actor_user_id,
                     actor_assumed, at, attempt, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
