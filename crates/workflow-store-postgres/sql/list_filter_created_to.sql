AND created_at < $?
