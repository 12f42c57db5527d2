SELECT run_id, seq, tenant_id, from_state, to_state, event, actor_user_id, actor_assumed, at,
       attempt, reason
FROM history WHERE run_id = $2 AND tenant_id = $1 ORDER BY seq
