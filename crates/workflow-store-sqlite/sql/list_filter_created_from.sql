AND created_at >= :created_from
