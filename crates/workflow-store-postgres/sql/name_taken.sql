SELECT EXISTS (SELECT 1 FROM runs WHERE definition_id = $1 AND name = $2 AND id <> $3)
