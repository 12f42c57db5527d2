-- SUM-1: distinct triggerers, the earliest completion, and how many terminal runs have a
-- duration (completed_at - started_at).
SELECT count(DISTINCT triggered_by), min(completed_at),
       count(*) FILTER (WHERE execution_state IN ('COMPLETED', 'FAILED')
                        AND started_at IS NOT NULL AND completed_at IS NOT NULL)
FROM runs WHERE tenant_id = $1 /*FILTERS*/
