SELECT seq, message, attempts, delivered, dead, last_error, next_try_at, first_failed_at
FROM outbox WHERE delivered = 0 AND dead = 0 ORDER BY seq LIMIT +?1
