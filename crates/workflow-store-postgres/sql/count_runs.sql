SELECT count(*) FROM runs WHERE tenant_id = $1 /*FILTERS*/
