DELETE FROM runs WHERE id = $1 AND version = $2
