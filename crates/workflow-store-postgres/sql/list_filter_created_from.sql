AND created_at >= $?
