SELECT seq, message, attempts, delivered FROM outbox
WHERE run_id = +?2 AND tenant_id = +?1 ORDER BY seq
