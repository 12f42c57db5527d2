INSERT INTO grants (tenant_id, user_id, position, path, capability) VALUES ($1, $2, $3, $4, $5)
