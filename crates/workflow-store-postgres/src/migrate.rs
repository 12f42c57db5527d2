//! SCALE-4: versioned migrations (`migrations/*.sql`), applied at connect in one transaction
//! that holds a transaction-level advisory lock (several processes may start at once: the others
//! wait, then find nothing to do), recorded in `schema_migrations`. A database whose schema is
//! newer than this build is refused before anything is written.

use crate::conn::map_err;
use postgres::Client;
use workflow_core::{StoreError, StoreResult};

/// The migrations, in order: `(version, sql)`.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("../migrations/0001_init.sql"))];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key of the migrations (an arbitrary constant: "wf-migr" in ASCII). Advisory
/// locks are per database, so databases of one server do not wait for each other.
const MIGRATION_LOCK: i64 = 0x0077_662d_6d69_6772;

/// Bring the database to [`SCHEMA_VERSION`], or refuse it untouched when it is newer.
pub(crate) fn migrate(client: &mut Client) -> StoreResult<()> {
    const _: () = assert!(MIGRATIONS.len() as i32 == SCHEMA_VERSION);
    let mut tx = client.transaction().map_err(map_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(map_err)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .map_err(map_err)?
        .try_get(0)
        .map_err(map_err)?;
    let current: i32 = if exists {
        tx.query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(map_err)?
        .try_get(0)
        .map_err(map_err)?
    } else {
        0
    };
    if current > SCHEMA_VERSION {
        // Dropping `tx` rolls back: nothing was written.
        return Err(StoreError::corrupt(format!(
            "the database has schema version {current}, newer than the {SCHEMA_VERSION} this \
             build understands; upgrade workflow-store-postgres (the database was not modified)"
        )));
    }
    if current < 0 {
        return Err(StoreError::corrupt(format!(
            "the database has an invalid schema version {current} (it was not modified)"
        )));
    }
    if !exists {
        tx.batch_execute(include_str!("../sql/create_schema_migrations.sql"))
            .map_err(map_err)?;
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).map_err(map_err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)
}
