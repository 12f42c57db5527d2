-- SCALE-2: what outbox_due.sql answers at $1, minus what another owner holds an unexpired lease
-- on, leased to $3 until $4, in one statement. SKIP LOCKED: a message another relay is claiming
-- or recording right now is left to it instead of waited for. At most $2 messages.
WITH claimed AS (
    SELECT o.seq FROM outbox o
    WHERE NOT o.delivered AND NOT o.dead
      AND (o.next_try_at IS NULL OR o.next_try_at <= $1)
      AND (o.lease_owner IS NULL OR o.lease_owner = $3 OR o.lease_until <= $1)
      AND NOT EXISTS (
          SELECT 1 FROM outbox e
          WHERE e.run_id = o.run_id AND e.seq < o.seq AND NOT e.delivered AND NOT e.dead)
    ORDER BY o.seq
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox SET lease_owner = $3, lease_until = $4
FROM claimed WHERE outbox.seq = claimed.seq
RETURNING outbox.seq, outbox.message, outbox.attempts, outbox.delivered, outbox.dead,
          outbox.last_error, outbox.next_try_at, outbox.first_failed_at
