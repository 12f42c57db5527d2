-- REAP-1: served by the partial index runs_deadline.
SELECT tenant_id, id FROM runs
WHERE execution_state = 'IN_PROGRESS' AND deadline_at < $1
ORDER BY deadline_at, tenant_id, id
LIMIT $2
