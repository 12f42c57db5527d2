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
    include_str!("../migrations/0004_hash_api_keys.sql"),
    include_str!("../migrations/0005_lists_and_definitions.sql"),
    include_str!("../migrations/0006_scheduled_definitions.sql"),
];

/// The schema version whose migration replaced the API keys in clear by their digests (SEC-3).
const HASHED_KEYS: usize = 4;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How many prepared statements each connection keeps (every `.sql` file plus the list
/// variants in use).
const STATEMENT_CACHE: usize = 128;

/// The one place driver errors become [`StoreError`]s: busy/locked is retryable
/// (`service_unavailable`), a damaged or foreign file is `Corrupt`, the rest is `Backend`.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    let mapped = match &e {
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
    };
    mapped.with_source(e)
}

/// SEC-4: create a missing database file readable by its owner only (0600) before SQLite opens
/// it. SQLite gives the `-wal` and `-shm` files it creates later the database file's permission
/// bits, so all three end up 0600. An existing file keeps the permissions its owner chose.
fn create_private(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let special = path.as_os_str().is_empty()
            || path.as_os_str() == ":memory:"
            || path.to_string_lossy().starts_with("file:");
        if special {
            return Ok(());
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(StoreError::backend(format!(
                "cannot create {}: {e}",
                path.display()
            ))),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Register `workflow_api_key_digest(text) -> blob`, which migration 0004 uses to hash the keys
/// of an existing database: [`workflow_core::ApiKeyDigest::of`], so SQL and Rust agree.
fn register_digest_function(conn: &Connection) -> StoreResult<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "workflow_api_key_digest",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let key: Option<String> = ctx.get(0)?;
            Ok(key.map(|k| workflow_core::ApiKeyDigest::of(&k).as_bytes().to_vec()))
        },
    )
    .map_err(map_err)
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
    create_private(path)?;
    let mut conn = raw_open(path, opts)?;
    // Reading the header first: a non-database fails here (NOTADB) and nothing is written.
    check_version(path, user_version(&conn)?)?;
    set_pragmas(&conn, opts)?;
    register_digest_function(&conn)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let v = user_version(&tx)?;
    check_version(path, v)?;
    let from = usize::try_from(v).unwrap_or(0);
    // A file that held keys in clear before this open: its freed pages must not keep them.
    let scrub = from > 0 && from < HASHED_KEYS && MIGRATIONS.len() >= HASHED_KEYS;
    if scrub {
        tx.execute_batch("PRAGMA secure_delete = ON")
            .map_err(map_err)?;
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.execute_batch(sql).map_err(map_err)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    if scrub {
        scrub_freed_pages(&conn)?;
    }
    Ok(conn)
}

/// After migration 0004 (SEC-3): rewrite the whole file (VACUUM, with secure_delete so no page
/// keeps deleted bytes) and fold the WAL back into it, truncated to zero bytes, so the API keys
/// in clear survive neither in freed pages of the database nor in old frames of the WAL.
fn scrub_freed_pages(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch("VACUUM").map_err(map_err)?;
    // Readers of other processes can keep the checkpoint from finishing; it then says so in its
    // first column and the frames it could not fold in (pages written after the migration,
    // without keys) stay in the WAL.
    let _busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .map_err(map_err)?;
    conn.execute_batch("PRAGMA secure_delete = OFF")
        .map_err(map_err)
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
