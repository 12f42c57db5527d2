SELECT count(*) FROM runs WHERE tenant_id = +:tenant /*FILTERS*/
