-- DISP-4, DISP-5: each outbox message records its delivery attempts' last error, when it may be
-- tried again (backoff), when it first failed, and whether it was dead-lettered. The pending
-- index now leaves out dead letters as well as delivered messages.
ALTER TABLE outbox ADD COLUMN dead INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN next_try_at INTEGER;      -- ns since the epoch; NULL: due now
ALTER TABLE outbox ADD COLUMN first_failed_at INTEGER;  -- ns since the epoch
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (seq) WHERE delivered = 0 AND dead = 0;
CREATE INDEX outbox_pending_by_run ON outbox (run_id, seq) WHERE delivered = 0 AND dead = 0;
