-- One delivery attempt (workflow_core::OutboxEntry::after): $2 delivered, $3 dead, $4 the error
-- (NULL when delivered), $5 the next try (NULL unless retried), $6 the attempt's time. A
-- delivered or dead entry never changes again. Recording ends the relay's lease (SCALE-2).
UPDATE outbox SET
    attempts = attempts + 1,
    delivered = $2,
    dead = $3,
    last_error = COALESCE($4, last_error),
    next_try_at = $5,
    first_failed_at = CASE WHEN NOT $2 THEN COALESCE(first_failed_at, $6) ELSE first_failed_at END,
    lease_owner = NULL,
    lease_until = NULL
WHERE seq = $1 AND NOT delivered AND NOT dead
