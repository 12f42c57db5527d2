AND definition_id = +:definition
