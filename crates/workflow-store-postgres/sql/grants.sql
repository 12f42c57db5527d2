SELECT path, capability FROM grants WHERE tenant_id = $1 AND user_id = $2 ORDER BY position
