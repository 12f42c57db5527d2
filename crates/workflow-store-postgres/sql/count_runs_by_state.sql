-- Operators' metrics (DISP-7): runs per state over all tenants. A full count by design: it
-- serves a scrape, not a request.
SELECT execution_state, count(*) FROM runs GROUP BY execution_state
