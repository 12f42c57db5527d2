//! Reopening keeps everything (CONC-4 for a clean shutdown), and the file checks of `open`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use workflow_conformance::world::{Setup, World};
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

/// Everything a store holds about the World's tenant, read through the `Store` API.
#[derive(Debug, PartialEq)]
struct Dump {
    tenants: Vec<Option<Tenant>>,
    users: Vec<Option<User>>,
    by_key: Option<User>,
    definitions: Vec<Definition>,
    parts: Vec<PathPart>,
    runs: Vec<(Run, Vec<HistoryRecord>, Vec<OutboxEntry>)>,
    deleted: Vec<HistoryRecord>,
    pending: Vec<OutboxEntry>,
    expired: Vec<(TenantId, RunId)>,
}

fn dump(store: &impl Store, roots: &[PathPartId], deleted: RunId) -> Dump {
    let t = tenant();
    let all = RunQuery::all(t);
    let mut parts = Vec::new();
    for r in roots {
        parts.push(store.path_part(t, *r).unwrap().unwrap());
        parts.extend(store.descendants(t, *r).unwrap());
    }
    Dump {
        tenants: [TENANT, 2]
            .iter()
            .map(|n| store.tenant(TenantId(wid(*n))).unwrap())
            .collect(),
        users: (10..16)
            .map(|n| store.user(t, UserId(wid(n))).unwrap())
            .collect(),
        by_key: store.user_by_api_key("sk-test-14").unwrap(),
        definitions: store.definitions(t).unwrap(),
        parts,
        runs: store
            .list_runs(&all)
            .unwrap()
            .items
            .into_iter()
            .map(|r| {
                let h = store.history(t, r.id).unwrap();
                let o = store.outbox_for_run(t, r.id).unwrap();
                (r, h, o)
            })
            .collect(),
        deleted: store.history(t, deleted).unwrap(),
        pending: store.outbox_pending(1000).unwrap(),
        expired: store
            .expired_runs(
                workflow_conformance::world::epoch() + chrono::Duration::days(1),
                100,
            )
            .unwrap(),
    }
}

/// CONC-4, AUDIT-1: closing and reopening the file keeps runs, history, outbox and catalog
/// exactly, in both durability modes.
#[test]
fn conc_4_reopen_keeps_runs_history_outbox_and_catalog_exactly() {
    for durability in [Durability::Full, Durability::Normal] {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(dir.path());
        let options = SqliteOptions {
            durability,
            ..SqliteOptions::default()
        };
        let w = World::new(SqliteStore::open_with(&path, options.clone()).unwrap());
        for s in [
            Setup::Pending,
            Setup::NotStarted,
            Setup::InProgress,
            Setup::CompletedApprovalPending,
            Setup::CompletedApproved,
            Setup::CompletedNotRequired,
            Setup::FailedAfterStart,
            Setup::FailedNeverStarted,
        ] {
            w.run_in(s);
        }
        let gone = w.draft();
        w.engine.delete_run(&w.triggerer, gone.id).unwrap();
        w.dispatcher.set_failing(true);
        w.running(); // its dispatch stays pending
        w.engine.relay_outbox().unwrap();
        let roots = [w.shared.id, w.private.id];
        let before = dump(w.engine.store(), &roots, gone.id);
        assert!(before.runs.len() >= 9 && !before.pending.is_empty() && !before.expired.is_empty());
        drop(w);
        let after = dump(
            &SqliteStore::open_with(&path, options).unwrap(),
            &roots,
            gone.id,
        );
        assert_eq!(before, after);
        check_invariants(&path);
    }
}

/// A file that is not a database is refused as `Corrupt` and left byte for byte untouched.
#[test]
fn opening_a_non_database_is_corrupt_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &junk).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Corrupt, "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);
    let side_files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(side_files.len(), 1, "no -wal/-shm created");
}

/// A database with a newer schema version is refused as `Corrupt` with a clear message, and not
/// written.
#[test]
fn opening_a_newer_schema_is_corrupt_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Corrupt);
    assert!(err.message.contains("schema version 99"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// Opening twice (the second open finds the schema in place) and reading the version back.
#[test]
fn migrations_are_tracked_by_user_version() {
    let t = TempStore::new();
    drop(SqliteStore::open(t.path()).unwrap());
    let c = rusqlite::Connection::open(t.path()).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, workflow_store_sqlite::SCHEMA_VERSION);
    assert!(
        v >= 4,
        "0001 init, 0002 failure kind, 0003 outbox retry, 0004 hashed API keys"
    );
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Lock contention past the busy timeout is a retryable `Unavailable` error (503), and the
/// refused commit wrote nothing.
#[test]
fn lock_contention_past_the_timeout_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = world_file(dir.path(), "busy.sqlite");
    let options = SqliteOptions {
        busy_timeout: std::time::Duration::from_millis(50),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let user = actor(&store, TRIGGERER);
    let engine = Engine::new(store);
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = engine
        .create_run(&user, DefinitionId(wid(DEF)), CreateRun::default())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ServiceUnavailable, "{err}");
    blocker.execute_batch("ROLLBACK").unwrap();
    let run = engine
        .create_run(&user, DefinitionId(wid(DEF)), CreateRun::default())
        .unwrap();
    assert_eq!(run.version, 1);
    check_invariants(&path);
}

/// The public API promised to the HTTP crate: `SqliteStore: Store + Send + Sync + Debug`, and the
/// default options (FULL durability, a 5 s busy timeout).
#[test]
fn public_api_shape() {
    fn assert_store<T: Store + Send + Sync + std::fmt::Debug + 'static>() {}
    assert_store::<SqliteStore>();
    let o = SqliteOptions::default();
    assert_eq!(o.durability, Durability::Full);
    assert_eq!(o.busy_timeout, std::time::Duration::from_secs(5));
    let t = TempStore::new();
    assert!(format!("{:?}", t.store).contains("SqliteStore"));
    assert_eq!(t.store.options(), &o);
}

/// Migration 0002 (SCALE-4's versioned migrations): a version-1 file, whose FAILED runs have
/// only their error text, gets the typed `failure` of each run from that text.
#[test]
fn migration_2_derives_the_failure_kind_of_existing_runs() {
    let t = TempStore::new();
    let (stopped, running) = {
        let w = World::new(SqliteStore::open(t.path()).unwrap());
        let stopped = w.running();
        w.engine.stop_run(&w.owner, stopped.id).unwrap();
        (stopped.id, w.running().id)
    };
    // Turn the file back into a version-1 database.
    let c = rusqlite::Connection::open(t.path()).unwrap();
    c.execute_batch(UNDO_6).unwrap();
    c.execute_batch(UNDO_5).unwrap();
    c.execute_batch(UNDO_4).unwrap();
    c.execute_batch(UNDO_3).unwrap();
    c.execute_batch("ALTER TABLE runs DROP COLUMN failure; PRAGMA user_version = 1;")
        .unwrap();
    drop(c);
    let store = SqliteStore::open(t.path()).unwrap();
    let load = |id| store.load_run(tenant(), id).unwrap().unwrap();
    assert_eq!(load(stopped).failure, Some(FailureKind::Stopped));
    assert_eq!(load(running).failure, None);
}

/// Migration 0004 undone: a version-4 file back to version 3 (the digests are dropped: a key
/// cannot be recovered from its digest).
/// Migration 0006 undone: a version-6 file back to version 5.
const UNDO_6: &str = "
    DROP INDEX definitions_scheduled;
    PRAGMA user_version = 5;";

/// Migration 0005 undone: a version-5 file back to version 4.
const UNDO_5: &str = "
    DROP INDEX runs_tenant_updated;
    DROP INDEX runs_def_updated;
    DROP INDEX runs_tenant_created_stats;
    DROP INDEX runs_def_created_stats;
    ALTER TABLE definitions DROP COLUMN description;
    ALTER TABLE definitions DROP COLUMN schedule;
    ALTER TABLE definitions DROP COLUMN created_from_id;
    ALTER TABLE definitions DROP COLUMN updated_at;
    PRAGMA user_version = 4;";

const UNDO_4: &str = "
    DROP INDEX users_by_api_key_sha256;
    ALTER TABLE users DROP COLUMN api_key_sha256;
    ALTER TABLE users ADD COLUMN api_key TEXT;
    CREATE INDEX users_by_api_key ON users (api_key) WHERE api_key IS NOT NULL;
    PRAGMA user_version = 3;";

/// Migration 0003 undone: a version-3 file back to version 2.
const UNDO_3: &str = "
    DROP INDEX outbox_pending_by_run;
    DROP INDEX outbox_pending;
    ALTER TABLE outbox DROP COLUMN dead;
    ALTER TABLE outbox DROP COLUMN last_error;
    ALTER TABLE outbox DROP COLUMN next_try_at;
    ALTER TABLE outbox DROP COLUMN first_failed_at;
    CREATE INDEX outbox_pending ON outbox (seq) WHERE delivered = 0;
    PRAGMA user_version = 2;";

/// Migration 0003 (DISP-4): a version-2 file's queued messages stay pending and due, with no
/// error and no backoff, and its delivered ones stay delivered.
#[test]
fn migration_3_keeps_queued_messages_due() {
    let t = TempStore::new();
    let (queued, delivered) = {
        let w = World::new(SqliteStore::open(t.path()).unwrap());
        let delivered = w.running().id;
        w.dispatcher.set_failing(true);
        let queued = w.running().id;
        (queued, delivered)
    };
    let c = rusqlite::Connection::open(t.path()).unwrap();
    c.execute_batch(UNDO_6).unwrap();
    c.execute_batch(UNDO_5).unwrap();
    c.execute_batch(UNDO_4).unwrap();
    c.execute_batch(UNDO_3).unwrap();
    drop(c);
    let store = SqliteStore::open(t.path()).unwrap();
    let epoch = workflow_conformance::world::epoch();
    let due = store.outbox_due(epoch, 100).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].message.key().run_id, queued);
    assert_eq!(
        (due[0].dead, due[0].next_try_at, due[0].last_error.clone()),
        (false, None, None)
    );
    assert!(store.outbox_for_run(tenant(), delivered).unwrap()[0].delivered);
}
