INSERT OR REPLACE INTO tenants (id, name) VALUES (?1, ?2)
