SELECT EXISTS (
    SELECT 1 FROM runs
    WHERE definition_id = $1 AND triggered_by = $2 AND idempotency_key = $3 AND id <> $4
)
