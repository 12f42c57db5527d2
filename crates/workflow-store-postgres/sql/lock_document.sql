-- Store requirement 10: two batches activating versions of one document are serialized on the
-- document's row (the second waits here, then sees the first's versions).
SELECT 1 FROM path_parts WHERE tenant_id = $1 AND id = $2 FOR UPDATE
