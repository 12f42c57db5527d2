-- Any of the states (a JSON array, so that one prepared statement serves any number of them).
AND execution_state IN (SELECT value FROM json_each(:states))
