-- SUM-1: matching runs per execution state. src/list.rs's filters go in at FILTERS.
SELECT execution_state, count(*) FROM runs WHERE tenant_id = $1 /*FILTERS*/
GROUP BY execution_state
