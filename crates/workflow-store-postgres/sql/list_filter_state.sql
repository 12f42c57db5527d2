-- Any of the states (a text[]: one prepared statement serves any number of them).
AND execution_state = ANY($?)
