AND execution_state = +:state
