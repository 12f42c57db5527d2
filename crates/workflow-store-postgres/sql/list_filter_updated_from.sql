AND updated_at >= $?
