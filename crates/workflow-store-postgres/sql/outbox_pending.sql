SELECT seq, message, attempts, delivered, dead, last_error, next_try_at, first_failed_at
FROM outbox WHERE NOT delivered AND NOT dead ORDER BY seq LIMIT $1
