-- SUM-1: the duration (nanoseconds) at 0-based rank :rank among the terminal runs' durations.
SELECT completed_at - started_at AS d FROM runs
WHERE tenant_id = +:tenant /*FILTERS*/
  AND execution_state IN ('COMPLETED', 'FAILED') AND started_at IS NOT NULL AND completed_at IS NOT NULL
ORDER BY d LIMIT 1 OFFSET :rank
