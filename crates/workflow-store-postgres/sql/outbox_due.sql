-- Store requirement 6: pending messages due at $2 that are first in their run's queue (a run's
-- messages are delivered in order: a message waiting for its backoff holds back the later ones).
SELECT seq, message, attempts, delivered, dead, last_error, next_try_at, first_failed_at
FROM outbox o
WHERE NOT o.delivered AND NOT o.dead
  AND (o.next_try_at IS NULL OR o.next_try_at <= $2)
  AND NOT EXISTS (
      SELECT 1 FROM outbox e
      WHERE e.run_id = o.run_id AND e.seq < o.seq AND NOT e.delivered AND NOT e.dead)
ORDER BY o.seq LIMIT $1
