AND created_at < :created_to
