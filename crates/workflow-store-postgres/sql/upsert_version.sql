INSERT INTO versions (tenant_id, part_id, ingestion, active) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, part_id) DO UPDATE SET
    ingestion = EXCLUDED.ingestion, active = EXCLUDED.active
