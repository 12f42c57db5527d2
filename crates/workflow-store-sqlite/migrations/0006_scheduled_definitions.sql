-- SCHED-3: the scheduler reads every tenant's scheduled definitions each tick; a partial index
-- keeps that read off the unscheduled ones.
CREATE INDEX definitions_scheduled ON definitions (tenant_id, id) WHERE schedule IS NOT NULL;
