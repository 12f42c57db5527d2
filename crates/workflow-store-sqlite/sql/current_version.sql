SELECT version, tenant_id FROM runs WHERE id = +?1
