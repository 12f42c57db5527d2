SELECT seq, message, attempts, delivered FROM outbox WHERE delivered = 0 ORDER BY seq LIMIT +?1
