DELETE FROM runs WHERE id = +?1
