AND approval_state = +:approval
