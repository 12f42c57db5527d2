-- LIST-2/LIST-3: `updated_after` / `updated_before` windows are index ranges, tenant-wide and
-- per definition.
CREATE INDEX runs_tenant_updated ON runs (tenant_id, updated_at, id);
CREATE INDEX runs_def_updated ON runs (tenant_id, definition_id, updated_at, id);
