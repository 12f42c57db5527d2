INSERT OR REPLACE INTO users (tenant_id, id, role, first_name, last_name, api_key_sha256)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
