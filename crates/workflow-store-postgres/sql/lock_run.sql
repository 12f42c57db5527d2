-- The commit's version check: the live row's version and tenant, locked until the commit ends
-- (concurrent commits of one run queue here).
SELECT version, tenant_id FROM runs WHERE id = $1 FOR UPDATE
