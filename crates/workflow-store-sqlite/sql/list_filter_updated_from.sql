AND updated_at >= :updated_from
