SELECT seq, message, attempts, delivered, dead, last_error, next_try_at, first_failed_at
FROM outbox WHERE run_id = $2 AND tenant_id = $1 ORDER BY seq
