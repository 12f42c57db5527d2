AND triggered_by = $?
