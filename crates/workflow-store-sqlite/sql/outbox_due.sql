-- Store requirement 6: pending messages due at ?2 that are first in their run's queue (a run's
-- messages are delivered in order: a message waiting for its backoff holds back the later ones).
SELECT seq, message, attempts, delivered, dead, last_error, next_try_at, first_failed_at
FROM outbox o
WHERE o.delivered = 0 AND o.dead = 0
  AND (o.next_try_at IS NULL OR o.next_try_at <= +?2)
  AND NOT EXISTS (
      SELECT 1 FROM outbox e INDEXED BY outbox_pending_by_run
      WHERE e.run_id = o.run_id AND e.seq < o.seq AND e.delivered = 0 AND e.dead = 0)
ORDER BY o.seq LIMIT +?1
