-- SUM-1: the durations (nanoseconds) at the two 1-based ranks bound last (nearest_rank
-- plus one) among the terminal runs' durations, from one sort: (rank, duration) rows.
SELECT rn, d FROM (
  SELECT completed_at - started_at AS d,
         row_number() OVER (ORDER BY completed_at - started_at) AS rn
  FROM runs
  WHERE tenant_id = $1 /*FILTERS*/
    AND execution_state IN ('COMPLETED', 'FAILED') AND started_at IS NOT NULL AND completed_at IS NOT NULL
) ranked
WHERE rn IN ($?, $?)
