//! Opening a connection: the checks that keep a foreign or newer file untouched, the pragmas,
//! and the migrations tracked by `PRAGMA user_version`.

use crate::{Durability, SqliteOptions};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::path::Path;
use workflow_core::{StoreError, StoreResult};

/// The migrations, in order; migration `i` (0-based) brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_failure_kind.sql"),
    include_str!("../migrations/0003_outbox_retry.sql"),
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How many prepared statements each connection keeps (every `.sql` file plus the list
/// variants in use).
const STATEMENT_CACHE: usize = 128;

/// The one place driver errors become [`StoreError`]s: busy/locked is retryable
/// (`service_unavailable`), a damaged or foreign file is `Corrupt`, the rest is `Backend`.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::unavailable(format!("database is busy, retry: {e}"))
            }
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                StoreError::corrupt(format!("not a workflow database or damaged: {e}"))
            }
            _ => StoreError::backend(format!("sqlite: {e}")),
        },
        _ => StoreError::backend(format!("sqlite: {e}")),
    }
}

fn raw_open(path: &Path, opts: &SqliteOptions) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(opts.busy_timeout).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn user_version(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_err)
}

fn check_version(path: &Path, v: i64) -> StoreResult<()> {
    if v > SCHEMA_VERSION {
        return Err(StoreError::corrupt(format!(
            "{} has schema version {v}, newer than the {SCHEMA_VERSION} this build understands; \
             upgrade workflow-store-sqlite (the file was not modified)",
            path.display()
        )));
    }
    if v < 0 {
        return Err(StoreError::corrupt(format!(
            "{} has an invalid schema version {v} (the file was not modified)",
            path.display()
        )));
    }
    Ok(())
}

fn set_pragmas(conn: &Connection, opts: &SqliteOptions) -> StoreResult<()> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::backend(format!(
            "cannot switch the database to WAL (journal mode is {mode})"
        )));
    }
    let sync = match opts.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(map_err)
}

/// Open the writer connection: refuse a foreign or newer file before writing a byte, then
/// switch to WAL and migrate in one IMMEDIATE transaction (safe against concurrent openers).
pub(crate) fn open_writer(path: &Path, opts: &SqliteOptions) -> StoreResult<Connection> {
    let mut conn = raw_open(path, opts)?;
    // Reading the header first: a non-database fails here (NOTADB) and nothing is written.
    check_version(path, user_version(&conn)?)?;
    set_pragmas(&conn, opts)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let v = user_version(&tx)?;
    check_version(path, v)?;
    let from = usize::try_from(v).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.execute_batch(sql).map_err(map_err)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(conn)
}

/// Open a reader connection on a file the writer already checked and migrated.
pub(crate) fn open_reader(path: &Path, opts: &SqliteOptions) -> StoreResult<Connection> {
    let conn = raw_open(path, opts)?;
    check_version(path, user_version(&conn)?)?;
    let sync = match opts.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(map_err)?;
    Ok(conn)
}
