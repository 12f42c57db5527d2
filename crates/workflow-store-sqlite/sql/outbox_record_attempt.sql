-- Attempts count only while undelivered; a delivered entry never changes again.
UPDATE outbox SET attempts = attempts + 1, delivered = +?2 WHERE seq = +?1 AND delivered = 0
