SELECT version FROM runs WHERE id = $1
