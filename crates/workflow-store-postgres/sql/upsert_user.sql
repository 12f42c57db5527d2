INSERT INTO users (tenant_id, id, role, first_name, last_name, api_key_digest)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    role = EXCLUDED.role, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
    api_key_digest = EXCLUDED.api_key_digest
