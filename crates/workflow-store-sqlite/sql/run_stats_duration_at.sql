-- SUM-1: the durations (nanoseconds) at 1-based ranks :r50 and :r95 among the terminal runs'
-- durations, from one sort (answers (rank, duration) rows).
SELECT rn, d FROM (
  SELECT completed_at - started_at AS d, row_number() OVER (ORDER BY completed_at - started_at) AS rn
  FROM runs
  WHERE tenant_id = +:tenant /*FILTERS*/
    AND execution_state IN ('COMPLETED', 'FAILED') AND started_at IS NOT NULL AND completed_at IS NOT NULL
)
WHERE rn IN (:r50, :r95)
