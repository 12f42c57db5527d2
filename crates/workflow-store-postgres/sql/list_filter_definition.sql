AND definition_id = $?
