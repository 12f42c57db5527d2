INSERT INTO outbox (run_id, tenant_id, attempt, kind, message) VALUES ($1, $2, $3, $4, $5)
