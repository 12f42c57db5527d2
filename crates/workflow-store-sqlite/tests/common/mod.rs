//! Shared scaffolding of the integration tests: a store on a fresh temp file that removes the
//! file when dropped.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use workflow_core::*;
use workflow_store_sqlite::{SqliteOptions, SqliteStore};

/// A [`SqliteStore`] on its own temporary directory (deleted after the store is closed).
pub struct TempStore {
    pub store: SqliteStore,
    pub dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> Self {
        Self::with(SqliteOptions::default())
    }
    pub fn with(options: SqliteOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(dir.path().join("runs.sqlite"), options).unwrap();
        TempStore { store, dir }
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("runs.sqlite")
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("runs.sqlite")
}

macro_rules! delegate {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty;)*) => {
        impl Store for TempStore {
            $(fn $name(&self, $($a: $t),*) -> $r { self.store.$name($($a),*) })*
        }
    };
}

delegate! {
    tenant(id: TenantId) -> StoreResult<Option<Tenant>>;
    user(tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    user_by_api_key_digest(digest: &ApiKeyDigest) -> StoreResult<Option<User>>;
    path_part(tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>>;
    children(tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>>;
    descendants(tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>>;
    definition(tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>>;
    definitions(tenant: TenantId) -> StoreResult<Vec<Definition>>;
    scheduled_definitions() -> StoreResult<Vec<Definition>>;
    apply_catalog(writes: &[CatalogWrite]) -> StoreResult<()>;
    load_run(tenant: TenantId, id: RunId) -> StoreResult<Option<Run>>;
    run_id_by_name(tenant: TenantId, definition: DefinitionId, name: &str) -> StoreResult<Option<RunId>>;
    run_by_idempotency_key(tenant: TenantId, definition: DefinitionId, user: UserId, key: &str) -> StoreResult<Option<Run>>;
    list_runs(query: &RunQuery) -> StoreResult<Page<Run>>;
    run_stats(query: &RunQuery, durations: bool) -> StoreResult<workflow_core::RunStats>;
    count_runs_by_state() -> StoreResult<Vec<(ExecutionState, u64)>>;
    expired_runs(now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>>;
    commit(commit: Commit) -> StoreResult<CommitOutcome>;
    history(tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>>;
    outbox_pending(limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    outbox_due(now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    outbox_claim(now: Timestamp, limit: u32, lease: &OutboxLease) -> StoreResult<Vec<OutboxEntry>>;
    start_facts(run: &Run, def: &Definition) -> StoreResult<workflow_core::snapshot::StartFacts>;
    outbox_record_attempt(seq: u64, at: Timestamp, outcome: &Delivery) -> StoreResult<()>;
    outbox_for_run(tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>>;
}

// ------------------------------------------------------------------------ the World's fixed ids

/// The ids `workflow_conformance::world::World` gives its fixtures.
pub fn wid(n: u128) -> workflow_core::uuid::Uuid {
    workflow_core::uuid::Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 | n)
}
pub const TENANT: u128 = 1;
pub const OWNER: u128 = 10;
pub const TRIGGERER: u128 = 12;
pub const DEF: u128 = 200;
pub const DEF_PLAIN: u128 = 201;

pub fn tenant() -> TenantId {
    TenantId(wid(TENANT))
}

/// The actor of a World user, read back from the store.
pub fn actor(store: &impl Store, n: u128) -> Actor {
    Actor::of(&store.user(tenant(), UserId(wid(n))).unwrap().unwrap())
}

/// A database file holding a populated `World` (closed, so it can be copied).
pub fn world_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let options = SqliteOptions {
        durability: workflow_store_sqlite::Durability::Normal,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    drop(workflow_conformance::world::World::new(store));
    path
}

/// Copy a closed database file (no -wal left after a clean close) to a new name.
pub fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

/// The durable-state invariants every crash or fault must keep (CONC-4, CONC-5, AUDIT-1):
/// `PRAGMA integrity_check` is ok; every live run's version equals its history length, its
/// history is gapless and ends in its state; every run's dispatches and cancels match its
/// history events; a live run has its folder; a run id without a row ends with `deleted`.
pub fn check_invariants(path: &Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "integrity_check of {}", path.display());
    let checks: &[(&str, &str)] = &[
        (
            "run row disagrees with its history (version, seq or state)",
            "SELECT r.id FROM runs r
             WHERE r.version <> (SELECT count(*) FROM history h WHERE h.run_id = r.id)
                OR r.version IS NOT (SELECT max(seq) FROM history h WHERE h.run_id = r.id)
                OR r.execution_state IS NOT
                   (SELECT to_state FROM history h WHERE h.run_id = r.id ORDER BY seq DESC LIMIT 1)",
        ),
        (
            "history with a gap",
            "SELECT run_id FROM history GROUP BY run_id HAVING count(*) <> max(seq) OR min(seq) <> 1",
        ),
        (
            "outbox does not match the history (CONC-5)",
            "SELECT h.run_id FROM (SELECT DISTINCT run_id FROM history) h
             WHERE (SELECT count(*) FROM outbox o WHERE o.run_id = h.run_id AND o.kind = 'dispatch')
                <> (SELECT count(*) FROM history x WHERE x.run_id = h.run_id
                    AND x.event IN ('started', 'retried'))
                OR (SELECT count(*) FROM outbox o WHERE o.run_id = h.run_id AND o.kind = 'cancel')
                <> (SELECT count(*) FROM history x WHERE x.run_id = h.run_id
                    AND x.event IN ('stopped', 'timed_out'))",
        ),
        (
            "live run without its folder",
            "SELECT r.id FROM runs r WHERE NOT EXISTS (SELECT 1 FROM path_parts p
               WHERE p.tenant_id = r.tenant_id AND p.id = json_extract(r.folders, '$.inputs_id'))",
        ),
        (
            "row presence disagrees with a final `deleted` record",
            "SELECT h.run_id FROM history h
             WHERE h.seq = (SELECT max(seq) FROM history x WHERE x.run_id = h.run_id)
               AND ((h.event = 'deleted') = EXISTS (SELECT 1 FROM runs r WHERE r.id = h.run_id))",
        ),
    ];
    for (what, sql) in checks {
        let mut stmt = c.prepare(sql).unwrap();
        let bad: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(bad.is_empty(), "{what} in {}: {bad:?}", path.display());
    }
}

/// A small xorshift generator (no `rand` dependency); the seed is printed by its users.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_time() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(t | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
