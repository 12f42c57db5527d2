INSERT OR REPLACE INTO versions (tenant_id, part_id, ingestion, active) VALUES (?1, ?2, ?3, ?4)
