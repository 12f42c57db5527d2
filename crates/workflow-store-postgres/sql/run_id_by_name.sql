SELECT id FROM runs WHERE definition_id = $2 AND name = $3 AND tenant_id = $1
