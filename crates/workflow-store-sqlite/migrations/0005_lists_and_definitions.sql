-- LIST-2/LIST-3: `updated_after` / `updated_before` windows are index ranges, tenant-wide and
-- per definition.
CREATE INDEX runs_tenant_updated ON runs (tenant_id, updated_at, id);
CREATE INDEX runs_def_updated ON runs (tenant_id, definition_id, updated_at, id);

-- DEF-5, SCHED-1, DEF-4: what a definition carries beyond its first shape. `schedule` is JSON
-- (cadence, start_at, timezone) or NULL; `updated_at` starts at the creation time.
ALTER TABLE definitions ADD COLUMN description TEXT;
ALTER TABLE definitions ADD COLUMN schedule TEXT;
ALTER TABLE definitions ADD COLUMN created_from_id TEXT;
ALTER TABLE definitions ADD COLUMN updated_at INTEGER;
UPDATE definitions SET updated_at = created_at;

-- SUM-1: the summary's aggregates over a created_at window read this covering index only (no
-- run row), tenant-wide and per definition.
CREATE INDEX runs_tenant_created_stats
    ON runs (tenant_id, created_at, execution_state, approval_state, triggered_by, started_at, completed_at);
CREATE INDEX runs_def_created_stats
    ON runs (tenant_id, definition_id, created_at, execution_state, approval_state, triggered_by, started_at, completed_at);
