//! Shared scaffolding of the integration tests: every test gets its own fresh database on the
//! server at `WORKFLOW_PG_URL` (`CREATE DATABASE wf_<uuid>`), dropped when the test's store is
//! dropped, so tests run in parallel without seeing each other.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use workflow_core::*;
use workflow_store_postgres::{PgOptions, PgStore};

/// The server's URL, or `None` (with a note) when `WORKFLOW_PG_URL` is unset outside CI. In CI
/// (`CI` set) a missing database is a failure, not a skip.
pub fn pg_url() -> Option<String> {
    match std::env::var("WORKFLOW_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "WORKFLOW_PG_URL is unset in CI: the PostgreSQL tests need a server \
                     (scripts/pg.sh start DIR prints one)"
                );
            }
            eprintln!("skipped: WORKFLOW_PG_URL unset");
            None
        }
    }
}

/// `url` with its database name replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or("");
    let mut out = format!("{}{}/{}", &base[..scheme_end], host, db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

/// A fresh, empty database on the server: dropped (`WITH (FORCE)`) when this is dropped.
pub struct TempDb {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl TempDb {
    pub fn new() -> Option<TempDb> {
        let admin_url = pg_url()?;
        let name = format!("wf_{}", uuid::Uuid::new_v4().simple());
        admin(&admin_url)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = with_db(&admin_url, &name);
        Some(TempDb {
            admin_url,
            name,
            url,
        })
    }

    pub fn client(&self) -> postgres::Client {
        admin(&self.url)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A [`PgStore`] on its own fresh database (dropped after the store is closed).
pub struct PgTempStore {
    pub store: PgStore,
    pub db: TempDb,
}

impl PgTempStore {
    /// `None` (the test returns early) when `WORKFLOW_PG_URL` is unset outside CI.
    pub fn new() -> Option<Self> {
        Self::with(PgOptions::default())
    }
    pub fn with(options: PgOptions) -> Option<Self> {
        let db = TempDb::new()?;
        let store = PgStore::connect_with(&db.url, options).unwrap();
        Some(PgTempStore { store, db })
    }
}

macro_rules! delegate {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty;)*) => {
        impl Store for PgTempStore {
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
    run_stats(query: &RunQuery, durations: bool) -> StoreResult<RunStats>;
    count_runs_by_state() -> StoreResult<Vec<(ExecutionState, u64)>>;
    expired_runs(now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>>;
    commit(commit: Commit) -> StoreResult<CommitOutcome>;
    start_facts(run: &Run, def: &Definition) -> StoreResult<workflow_core::snapshot::StartFacts>;
    history(tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>>;
    outbox_pending(limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    outbox_due(now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    outbox_claim(now: Timestamp, limit: u32, lease: &OutboxLease) -> StoreResult<Vec<OutboxEntry>>;
    outbox_record_attempt(seq: u64, at: Timestamp, outcome: &Delivery) -> StoreResult<()>;
    outbox_for_run(tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>>;
}

// ------------------------------------------------------------------------ the World's fixed ids

/// The ids `workflow_conformance::world::World` gives its fixtures.
pub fn wid(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 | n)
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
