AND updated_at < $?
