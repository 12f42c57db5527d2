AND updated_at < :updated_to
