-- The commit's version check: the live row's version and tenant, locked until the commit ends
-- (concurrent commits of one run queue here), and whether the id was ever used (its tombstone:
-- what a creation asks next). Always one row; version and tenant are NULL without a live row.
WITH live AS (SELECT version, tenant_id FROM runs WHERE id = $1 FOR UPDATE)
SELECT live.version, live.tenant_id, EXISTS (SELECT 1 FROM run_ids WHERE id = $1)
FROM (SELECT) AS one LEFT JOIN live ON true
