-- SCALE-4: one row per applied migration (src/migrate.rs). Created with the first migration,
-- inside its transaction.
CREATE TABLE schema_migrations (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
