//! # workflow-store-postgres
//!
//! The [`workflow_core::Store`] for scale-out (SPEC section 12): several server processes serve
//! one PostgreSQL database, and every rule of the run lifecycle holds across them.
//!
//! ## ⚠ Never on an async worker thread
//!
//! This crate uses the **synchronous** [`postgres`](https://docs.rs/postgres) client, which runs
//! its own small tokio runtime inside. Calling a [`PgStore`] method, creating one, or dropping
//! one (or the last connection of its pool) **on a tokio worker thread panics** ("Cannot start
//! a runtime from within a runtime"). Hosts call the engine from `tokio::task::spawn_blocking`
//! or from plain threads, as `workflow-http` does for every store.
//!
//! ## Design
//!
//! * **Pool.** A [`PgStore`] holds an r2d2 pool of connections ([`PgOptions::pool_size`]);
//!   every call checks one out for its duration. Each pooled connection caches its prepared
//!   statements by SQL text (every statement is a `.sql` file under `sql/`, loaded with
//!   `include_str!`). A pool that has no free connection within
//!   [`PgOptions::connection_timeout`], a refused or lost connection, a serialization failure,
//!   a deadlock or a lock timeout is a retryable
//!   [`Unavailable`](workflow_core::StoreErrorKind::Unavailable) error.
//! * **Schema (SCALE-4).** Migrations are `migrations/NNNN_*.sql`, applied by
//!   [`PgStore::connect`] in one transaction that holds `pg_advisory_xact_lock` (several
//!   processes may start at once: the others wait, then find nothing to do), recorded in
//!   `schema_migrations(version)`. A database whose schema is newer than [`SCHEMA_VERSION`] is
//!   refused untouched with [`Corrupt`](workflow_core::StoreErrorKind::Corrupt). API keys are
//!   stored only as SHA-256 digests (`users.api_key_digest`, SEC-3).
//! * **One transaction per commit.** [`Store::commit`] is one `READ COMMITTED` transaction: it
//!   locks the run's row (`SELECT version, tenant_id FROM runs WHERE id = $1 FOR UPDATE`: racing
//!   commits of one run queue there), runs the shared pre-check
//!   ([`workflow_core::Commit::validate`]) over that transaction, then writes the row with a
//!   version-checked `UPDATE runs ... WHERE id = $1 AND version = $n` (or the insert), the
//!   catalog changes (an `ActivateVersion` locks the document's row first, store requirement
//!   10), the history record and the outbox messages, and commits. Any error rolls everything
//!   back.
//! * **Tombstones.** `run_ids` keeps every run id ever committed, so a deleted run's id never
//!   comes back (a creation on a used id is `Conflict(Version { current: None })`).
//! * **Unique indexes as the backstop.** Names and idempotency keys of live runs are unique per
//!   definition through unique indexes. The pre-check answers the common case; a creation or
//!   rename racing another between the check and the write hits the index, and the violation
//!   (SQLSTATE 23505) maps by constraint name to [`ConflictKind::NameTaken`] /
//!   [`ConflictKind::IdempotencyKey`] (or, on the id's keys, to a version conflict). A
//!   serialization failure or deadlock in a commit is a version conflict too: the engine
//!   reloads and decides again.
//! * **Leases (SCALE-2).** [`Store::outbox_claim`] selects the due messages (pending, due, first
//!   of their run) that no other relay holds an unexpired lease on, `FOR UPDATE SKIP LOCKED`,
//!   and leases them in the same statement; recording an attempt ends the lease. A relay that
//!   dies holding a lease leaves its messages to the others once it expires.
//! * **No `NOTIFY`** inside a commit: a commit touches only its own rows, so commits of
//!   different runs never serialize on a notification queue.
//! * **Lists (LIST-3).** Every filter and order is a fixed SQL fragment with bound parameters,
//!   answered from an index (`tests/explain.rs` checks the plans at 100k runs).
//!
//! Ids are `uuid` (ordered bytewise, like the reference adapter); timestamps are `bigint`
//! nanoseconds since the epoch (exact round trips; times outside 1677..2262 are refused);
//! structured values that are never filtered on are `jsonb`.
//!
//! ## Durability
//!
//! A returned `Committed` has been committed by the server with the server's
//! `synchronous_commit` (on by default: flushed to its WAL). One deliberate exception: the
//! relay's own bookkeeping, a claim's lease ([`Store::outbox_claim`]) and a delivery mark
//! ([`Store::outbox_record_attempt`]), runs on a second, small pool whose connections set
//! `synchronous_commit = off`, each as one statement in its own implicit transaction (one round
//! trip, no WAL flush to wait for). Losing either in a server crash only makes a relay offer the
//! message again, which the `Dispatcher` contract already requires runners to recognise
//! (at-least-once, by dispatch key). A later synchronous commit flushes them with it.
//!
//! ## Example
//!
//! ```no_run
//! use workflow_core::{Engine, Store, Tenant, TenantId};
//! use workflow_store_postgres::{PgOptions, PgStore};
//!
//! // From a plain thread or `spawn_blocking`, never on an async worker thread.
//! let Ok(url) = std::env::var("WORKFLOW_PG_URL") else { return Ok(()) };
//! let store = PgStore::connect_with(&url, PgOptions { pool_size: 8, ..PgOptions::default() })?;
//! let tenant = Tenant { id: TenantId(workflow_core::uuid::Uuid::new_v4()), name: "acme".into() };
//! let engine = Engine::new(store);
//! engine.put_tenant(tenant.clone())?;
//! assert_eq!(engine.store().tenant(tenant.id)?, Some(tenant));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod conn;
mod list;
mod migrate;

pub use migrate::SCHEMA_VERSION;

use codec::{
    definition_at, definition_from_row, enum_str, history_from_row, outbox_from_row, outbox_kind,
    part_from_row, run_from_row, ts, Cols, DefinitionRow, Param, RunRow, RUN_COLUMNS,
};
use conn::{map_err, prepare_cached, Conn, Manager, Tls};
use postgres::types::Json;
use postgres::{IsolationLevel, Row, Statement, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use workflow_core::snapshot::StartFacts;
use workflow_core::uuid::Uuid;
use workflow_core::{
    ApiKeyDigest, CatalogWrite, Commit, CommitOutcome, CommitProbe, ConflictKind, Definition,
    DefinitionId, Delivery, ExecutionState, HistoryRecord, OutboxEntry, OutboxLease, Page,
    PathPart, PathPartId, Run, RunId, RunQuery, RunStats, RunWrite, Store, StoreError, StoreResult,
    Tenant, TenantId, Timestamp, User, UserId,
};

/// The most connections a store keeps for its relay's claims and delivery marks.
const RELAY_CONNECTIONS: u32 = 4;

/// Options of [`PgStore::connect_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections in the pool (at most this many calls run at once; the others wait up to
    /// `connection_timeout`).
    pub pool_size: u32,
    /// How long a call waits for a free connection (or a new one) before failing with a
    /// retryable `Unavailable` error.
    pub connection_timeout: Duration,
}

impl Default for PgOptions {
    /// 16 connections, 5 seconds.
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL [`Store`]. `Send + Sync`: share one value between threads (behind an `Arc`);
/// any number of processes may connect to the same database. Never call it on an async worker
/// thread (see the crate documentation).
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    /// Connections with `synchronous_commit = off`, for the relay's claims and delivery marks
    /// only (see "Durability" in the crate documentation): each is one statement in its own
    /// implicit transaction, one round trip, no WAL flush to wait for.
    relay_pool: r2d2::Pool<Manager>,
    options: PgOptions,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("../sql/", $name, ".sql"))
    };
}

/// An open transaction on a pooled connection, with that connection's statement cache.
struct Tx<'a> {
    tx: Transaction<'a>,
    cache: &'a mut HashMap<String, Statement>,
}

impl Tx<'_> {
    fn stmt(&mut self, sql: &str) -> StoreResult<Statement> {
        prepare_cached(&mut self.tx, self.cache, sql).map_err(map_err)
    }
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
        let s = self.stmt(sql)?;
        self.tx.query(&s, params).map_err(map_err)
    }
    fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<Row> {
        let s = self.stmt(sql)?;
        self.tx.query_one(&s, params).map_err(map_err)
    }
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
        let s = self.stmt(sql)?;
        self.tx.execute(&s, params).map_err(map_err)
    }
    fn exists(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<bool> {
        Cols::new(&self.query_one(sql, params)?).get(0)
    }
}

/// [`CommitProbe`] over the commit's transaction: `current` locks the run's row and learns,
/// in the same statement, whether the id was ever used (what a creation asks next).
struct Probe<'t, 'a> {
    tx: &'t mut Tx<'a>,
    ever_used: Option<(RunId, bool)>,
}

impl CommitProbe for Probe<'_, '_> {
    fn current(&mut self, run: RunId) -> StoreResult<Option<(u64, TenantId)>> {
        let row = self.tx.query_one(sql!("lock_run"), &[&run.0])?;
        let c = Cols::new(&row);
        self.ever_used = Some((run, c.bool(2)?));
        let version: Option<i64> = c.get(0)?;
        match version {
            Some(_) => Ok(Some((c.u64(0)?, TenantId(c.uuid(1)?)))),
            None => Ok(None),
        }
    }
    fn ever_used(&mut self, run: RunId) -> StoreResult<bool> {
        match self.ever_used {
            Some((asked, used)) if asked == run => Ok(used),
            _ => self.tx.exists(sql!("id_ever_used"), &[&run.0]),
        }
    }
    fn name_taken(
        &mut self,
        definition: DefinitionId,
        name: &str,
        except: RunId,
    ) -> StoreResult<bool> {
        self.tx
            .exists(sql!("name_taken"), &[&definition.0, &name, &except.0])
    }
    fn idempotency_taken(
        &mut self,
        definition: DefinitionId,
        user: UserId,
        key: &str,
        except: RunId,
    ) -> StoreResult<bool> {
        self.tx.exists(
            sql!("idempotency_taken"),
            &[&definition.0, &user.0, &key, &except.0],
        )
    }
}

/// What a failed commit's driver error means: a unique violation or a serialization failure is
/// a conflict (the backstop of requirement 3), anything else an error.
fn conflict_of(e: &StoreError) -> Option<Option<ConflictKind>> {
    let pg = e.source.as_ref()?.downcast_ref::<postgres::Error>()?;
    let db = pg.as_db_error()?;
    use postgres::error::SqlState;
    if *db.code() == SqlState::UNIQUE_VIOLATION {
        return Some(match db.constraint() {
            Some("runs_name") => Some(ConflictKind::NameTaken),
            Some("runs_idempotency") => Some(ConflictKind::IdempotencyKey),
            // The run's id (runs_pkey, run_ids_pkey, history_pkey): a version conflict.
            _ => None,
        });
    }
    if *db.code() == SqlState::T_R_SERIALIZATION_FAILURE
        || *db.code() == SqlState::T_R_DEADLOCK_DETECTED
    {
        return Some(None);
    }
    None
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host:port/db?...`) with [`PgOptions::default`] and
    /// bring its schema up to date.
    ///
    /// # Errors
    ///
    /// `Corrupt` when the database's schema is newer than this build (it is left untouched);
    /// `Unavailable` when the server cannot be reached; `Backend` for a malformed URL or any
    /// other failure.
    pub fn connect(url: &str) -> StoreResult<PgStore> {
        Self::connect_with(url, PgOptions::default())
    }

    /// Connect with explicit options. Errors as [`PgStore::connect`].
    pub fn connect_with(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let config = postgres::Config::from_str(url).map_err(|e| {
            StoreError::backend(format!("invalid PostgreSQL URL: {e}")).with_source(e)
        })?;
        let mut relay_config = config.clone();
        let extra = relay_config.get_options().unwrap_or_default();
        relay_config.options(format!("{extra} -c synchronous_commit=off").trim_start());
        let manager = Manager(r2d2_postgres::PostgresConnectionManager::new(
            config,
            tls_connector()?,
        ));
        let relay_manager = Manager(r2d2_postgres::PostgresConnectionManager::new(
            relay_config,
            tls_connector()?,
        ));
        // Migrate on a connection of our own first: a server that cannot be reached fails here
        // at once, with the driver's error, rather than after the pool's timeout.
        {
            let mut first = r2d2::ManageConnection::connect(&manager).map_err(map_err)?;
            migrate::migrate(&mut first.client)?;
        }
        let pool_of = |manager, size: u32| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(options.connection_timeout)
                .test_on_check_out(false)
                .build_unchecked(manager)
        };
        let pool = pool_of(manager, options.pool_size);
        let relay_pool = pool_of(relay_manager, options.pool_size.min(RELAY_CONNECTIONS));
        Ok(PgStore {
            pool,
            relay_pool,
            options,
        })
    }

    /// The options it was connected with.
    pub fn options(&self) -> &PgOptions {
        &self.options
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(map_err)
    }

    /// One statement on a pooled connection (its own snapshot).
    fn query(&self, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
        Self::query_on(self.conn()?, sql, params)
    }

    /// One statement, in its own implicit transaction, on a connection of `pool`.
    fn query_on(
        mut c: r2d2::PooledConnection<Manager>,
        sql: &str,
        params: &[Param<'_>],
    ) -> StoreResult<Vec<Row>> {
        let s = c.prepare(sql).map_err(map_err)?;
        c.client.query(&s, params).map_err(map_err)
    }

    /// One relay statement on a `synchronous_commit = off` connection (claims, delivery marks).
    fn relay_query(&self, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
        Self::query_on(self.relay_pool.get().map_err(map_err)?, sql, params)
    }

    fn rows<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        f: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// `f` inside one transaction: `REPEATABLE READ, READ ONLY` for reads that must see one
    /// snapshot, else `READ COMMITTED`. Committed when `f` returns `Ok`, rolled back otherwise.
    fn tx<T>(
        &self,
        read_only: bool,
        f: impl FnOnce(&mut Tx<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut c = self.conn()?;
        let conn: &mut Conn = &mut c;
        let (client, cache) = conn.split();
        let tx = if read_only {
            client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
        } else {
            client.transaction()
        }
        .map_err(map_err)?;
        let mut t = Tx { tx, cache };
        let out = f(&mut t)?;
        t.tx.commit().map_err(map_err)?;
        Ok(out)
    }

    /// A user and its grants, read by one statement (`sql/user*.sql`: one snapshot, one round
    /// trip; this runs on every authenticated call).
    fn user_where(&self, sql: &str, params: &[Param<'_>]) -> StoreResult<Option<User>> {
        Ok(self.rows(sql, params, codec::user_from_row)?.pop())
    }

    fn apply_one(&self, t: &mut Tx<'_>, w: &CatalogWrite) -> StoreResult<()> {
        match w {
            CatalogWrite::Tenant(x) => {
                t.execute(sql!("upsert_tenant"), &[&x.id.0, &x.name])?;
            }
            CatalogWrite::User(u) => {
                let digest = u.api_key.as_ref().map(|d| d.as_bytes().as_slice());
                t.execute(
                    sql!("upsert_user"),
                    &[
                        &u.tenant_id.0,
                        &u.id.0,
                        &u.role.as_str(),
                        &u.first_name,
                        &u.last_name,
                        &digest,
                    ],
                )?;
                t.execute(sql!("delete_grants"), &[&u.tenant_id.0, &u.id.0])?;
                for (i, g) in u.grants.iter().enumerate() {
                    let pos = i32::try_from(i)
                        .map_err(|_| StoreError::backend("too many grants for one user"))?;
                    t.execute(
                        sql!("insert_grant"),
                        &[
                            &u.tenant_id.0,
                            &u.id.0,
                            &pos,
                            &g.path,
                            &g.capability.as_str(),
                        ],
                    )?;
                }
            }
            CatalogWrite::Definition(d) => {
                let row = DefinitionRow::new(d)?;
                t.execute(sql!("upsert_definition"), &row.params())?;
            }
            CatalogWrite::PutPart(p) => self.put_parts(t, &[p])?,
            CatalogWrite::RemoveDefinition(tenant, id) => {
                t.execute(sql!("delete_definition"), &[&tenant.0, &id.0])?;
            }
            CatalogWrite::RemovePart(tenant, id) => {
                t.execute(sql!("remove_part"), &[&tenant.0, &id.0])?;
            }
            CatalogWrite::ActivateVersion {
                tenant,
                document,
                version,
            } => {
                // Requirement 10: racing activations of one document queue on its row.
                t.query(sql!("lock_document"), &[&tenant.0, &document.0])?;
                t.execute(
                    sql!("activate_version"),
                    &[&tenant.0, &document.0, &version.0],
                )?;
            }
        }
        Ok(())
    }

    /// `writes` in order, with every run of consecutive [`CatalogWrite::PutPart`]s (a run's
    /// folder and its subfolders) as one statement, split where a part id would repeat.
    fn apply_all(&self, t: &mut Tx<'_>, writes: &[CatalogWrite]) -> StoreResult<()> {
        let mut batch: Vec<&PathPart> = Vec::new();
        for w in writes {
            match w {
                CatalogWrite::PutPart(p)
                    if !batch
                        .iter()
                        .any(|b| b.id == p.id && b.tenant_id == p.tenant_id) =>
                {
                    batch.push(p);
                }
                CatalogWrite::PutPart(p) => {
                    self.put_parts(t, &batch)?;
                    batch = vec![p];
                }
                other => {
                    self.put_parts(t, &batch)?;
                    batch.clear();
                    self.apply_one(t, other)?;
                }
            }
        }
        self.put_parts(t, &batch)
    }

    /// Parts with distinct ids upserted with their version facts: one statement
    /// (`sql/put_parts.sql`), none for an empty slice.
    fn put_parts(&self, t: &mut Tx<'_>, parts: &[&PathPart]) -> StoreResult<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let tenants: Vec<Uuid> = parts.iter().map(|p| p.tenant_id.0).collect();
        let ids: Vec<Uuid> = parts.iter().map(|p| p.id.0).collect();
        let kinds: Vec<&str> = parts.iter().map(|p| p.kind.as_str()).collect();
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        let parents: Vec<Option<Uuid>> = parts.iter().map(|p| p.parent_id.map(|x| x.0)).collect();
        let paths: Vec<&str> = parts.iter().map(|p| p.path.as_str()).collect();
        let states: Vec<&str> = parts.iter().map(|p| p.approval_state.as_str()).collect();
        let approvals: Vec<Option<Json<_>>> = parts
            .iter()
            .map(|p| p.approval.as_ref().map(Json))
            .collect();
        let created: Vec<i64> = parts
            .iter()
            .map(|p| ts(p.created_at))
            .collect::<StoreResult<_>>()?;
        let ingestion: Vec<Option<&str>> = parts
            .iter()
            .map(|p| p.version.as_ref().map(|v| v.ingestion.as_str()))
            .collect();
        let active: Vec<Option<bool>> = parts
            .iter()
            .map(|p| p.version.as_ref().map(|v| v.active))
            .collect();
        t.execute(
            sql!("put_parts"),
            &[
                &tenants, &ids, &kinds, &names, &parents, &paths, &states, &approvals, &created,
                &ingestion, &active,
            ],
        )?;
        Ok(())
    }

    /// The body of [`Store::commit`], inside its transaction.
    fn commit_in(&self, t: &mut Tx<'_>, cm: &Commit) -> StoreResult<CommitOutcome> {
        let mut probe = Probe {
            tx: t,
            ever_used: None,
        };
        let current = match cm.validate(&mut probe)? {
            Ok(current) => current,
            Err(kind) => return Ok(CommitOutcome::Conflict(kind)),
        };
        let expected = codec::int(cm.expected_version, "version")?;
        let h = &cm.history;
        let (seq, event, at) = (codec::int(h.seq, "seq")?, enum_str(&h.event)?, ts(h.at)?);
        let (from, to) = (h.from.map(|s| s.as_str()), h.to.map(|s| s.as_str()));
        let (actor, attempt) = (h.actor.user_id.map(|u| u.0), i64::from(h.attempt));
        let history: [Param<'_>; 11] = [
            &h.run_id.0,
            &seq,
            &h.tenant_id.0,
            &from,
            &to,
            &event,
            &actor,
            &h.actor.assumed,
            &at,
            &attempt,
            &h.reason,
        ];
        match &cm.write {
            RunWrite::Put(run) => {
                // The row and its history record in one statement (with the tombstone for a
                // new run): sql/insert_run.sql, sql/update_run.sql.
                let row = RunRow::new(run)?;
                let mut all: Vec<Param<'_>> = row.params().to_vec();
                if current.is_none() {
                    all.extend(history);
                    t.execute(sql!("insert_run"), &all)?;
                } else {
                    all.push(&expected);
                    all.extend(history);
                    if t.execute(sql!("update_run"), &all)? != 1 {
                        // Cannot happen under the row lock; refuse rather than half-write.
                        return Err(StoreError::backend(
                            "version-checked update matched no row under the row lock",
                        ));
                    }
                }
            }
            RunWrite::Delete => {
                if t.execute(sql!("delete_run"), &[&cm.run_id.0, &expected])? != 1 {
                    return Err(StoreError::backend(
                        "version-checked delete matched no row under the row lock",
                    ));
                }
                t.execute(sql!("insert_history"), &history)?;
            }
        }
        self.apply_all(t, &cm.catalog)?;
        for m in &cm.outbox {
            let (tenant, kind) = outbox_kind(m);
            let key = m.key();
            t.execute(
                sql!("insert_outbox"),
                &[
                    &key.run_id.0,
                    &tenant.0,
                    &i64::from(key.attempt),
                    &kind,
                    &Json(m),
                ],
            )?;
        }
        Ok(CommitOutcome::Committed)
    }

    /// The stored version of a run now (after a conflict found at write time).
    fn current_version(&self, run: RunId) -> StoreResult<Option<u64>> {
        self.query(sql!("current_version"), &[&run.0])?
            .first()
            .map(|r| Cols::new(r).u64(0))
            .transpose()
    }

    /// The plan (`EXPLAIN` lines) of every statement a listing runs: the page, the count and
    /// the summary's aggregates, with `query`'s values bound (LIST-3's test reads them).
    #[doc(hidden)]
    pub fn explain_list(&self, query: &RunQuery) -> StoreResult<Vec<(String, Vec<String>)>> {
        let b = list::build(query)?;
        let limit = i64::from(query.limit);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let (r50, r95) = (1i64, 2i64);
        let statements: Vec<(&str, String, Vec<Param<'_>>)> = vec![
            ("list", b.list_sql()?, b.params(&[&limit, &offset])),
            ("count", b.count_sql()?, b.params(&[])),
            (
                "stats_counts",
                b.statement(sql!("run_stats_counts"))?,
                b.params(&[]),
            ),
            (
                "stats_totals",
                b.statement(sql!("run_stats_totals"))?,
                b.params(&[]),
            ),
            (
                "stats_duration_at",
                b.statement(sql!("run_stats_duration_at"))?,
                b.params(&[&r50, &r95]),
            ),
        ];
        let mut c = self.conn()?;
        statements
            .into_iter()
            .map(|(name, sql, params)| {
                let rows = c
                    .client
                    .query(&format!("EXPLAIN {sql}"), &params)
                    .map_err(map_err)?;
                let plan = rows
                    .iter()
                    .map(|r| Cols::new(r).text(0))
                    .collect::<StoreResult<Vec<String>>>()?;
                Ok((format!("{name}: {sql}"), plan))
            })
            .collect()
    }
}

#[cfg(not(feature = "tls"))]
fn tls_connector() -> StoreResult<Tls> {
    Ok(postgres::NoTls)
}

#[cfg(feature = "tls")]
fn tls_connector() -> StoreResult<Tls> {
    let connector = native_tls::TlsConnector::new()
        .map_err(|e| StoreError::backend(format!("cannot set up TLS: {e}")).with_source(e))?;
    Ok(postgres_native_tls::MakeTlsConnector::new(connector))
}

impl Store for PgStore {
    fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self
            .rows(sql!("tenant"), &[&id.0], |r| {
                let c = Cols::new(r);
                Ok(Tenant {
                    id: TenantId(c.uuid(0)?),
                    name: c.text(1)?,
                })
            })?
            .pop())
    }

    fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        self.user_where(sql!("user"), &[&tenant.0, &id.0])
    }

    fn user_by_api_key_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<User>> {
        let bytes = digest.as_bytes().as_slice();
        self.user_where(sql!("user_by_api_key"), &[&bytes])
    }

    fn path_part(&self, tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>> {
        Ok(self
            .rows(sql!("path_part"), &[&tenant.0, &id.0], part_from_row)?
            .pop())
    }

    fn children(&self, tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>> {
        self.rows(sql!("children"), &[&tenant.0, &parent.0], part_from_row)
    }

    /// One round trip: the parts Start names, the uploads, and the active versions of the
    /// documents among them, assembled by workflow-core ([`StartFacts::assemble`]).
    fn start_facts(&self, run: &Run, def: &Definition) -> StoreResult<StartFacts> {
        let wanted: Vec<Uuid> = StartFacts::wanted(run, def).iter().map(|i| i.0).collect();
        let found = self.rows(
            sql!("start_facts"),
            &[&run.tenant_id.0, &wanted, &run.folders.inputs_id.0],
            part_from_row,
        )?;
        Ok(StartFacts::assemble(run, def, found))
    }

    fn descendants(&self, tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>> {
        self.rows(sql!("descendants"), &[&tenant.0, &root.0], part_from_row)
    }

    fn definition(&self, tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>> {
        Ok(self
            .rows(sql!("definition"), &[&tenant.0, &id.0], definition_from_row)?
            .pop())
    }

    fn definitions(&self, tenant: TenantId) -> StoreResult<Vec<Definition>> {
        self.rows(sql!("definitions"), &[&tenant.0], definition_from_row)
    }

    fn scheduled_definitions(&self) -> StoreResult<Vec<Definition>> {
        self.rows(sql!("scheduled_definitions"), &[], definition_from_row)
    }

    fn apply_catalog(&self, writes: &[CatalogWrite]) -> StoreResult<()> {
        self.tx(false, |t| self.apply_all(t, writes))
    }

    fn load_run(&self, tenant: TenantId, id: RunId) -> StoreResult<Option<Run>> {
        Ok(self
            .rows(sql!("load_run"), &[&id.0, &tenant.0], run_from_row)?
            .pop())
    }

    /// One round trip: the run joined with its definition.
    fn load_run_with_definition(
        &self,
        tenant: TenantId,
        id: RunId,
    ) -> StoreResult<Option<(Run, Option<Definition>)>> {
        let pair = |r: &Row| -> StoreResult<(Run, Option<Definition>)> {
            let run = run_from_row(r)?;
            let found: Option<Uuid> = Cols::at(r, RUN_COLUMNS).get(1)?;
            let def = match found {
                Some(_) => Some(definition_at(r, RUN_COLUMNS)?),
                None => None,
            };
            Ok((run, def))
        };
        Ok(self
            .rows(sql!("load_run_with_definition"), &[&id.0, &tenant.0], pair)?
            .pop())
    }

    fn run_id_by_name(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        name: &str,
    ) -> StoreResult<Option<RunId>> {
        Ok(self
            .rows(
                sql!("run_id_by_name"),
                &[&tenant.0, &definition.0, &name],
                |r| Ok(RunId(Cols::new(r).uuid(0)?)),
            )?
            .pop())
    }

    fn run_by_idempotency_key(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        user: UserId,
        key: &str,
    ) -> StoreResult<Option<Run>> {
        Ok(self
            .rows(
                sql!("run_by_idempotency_key"),
                &[&tenant.0, &definition.0, &user.0, &key],
                run_from_row,
            )?
            .pop())
    }

    fn list_runs(&self, query: &RunQuery) -> StoreResult<Page<Run>> {
        let b = list::build(query)?;
        let (list_sql, count_sql) = (b.list_sql()?, b.count_sql()?);
        let limit = i64::from(query.limit);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        self.tx(true, |t| {
            let total: i64 = Cols::new(&t.query_one(&count_sql, &b.params(&[]))?).get(0)?;
            let items = t
                .query(&list_sql, &b.params(&[&limit, &offset]))?
                .iter()
                .map(run_from_row)
                .collect::<StoreResult<_>>()?;
            Ok(Page {
                items,
                total: u64::try_from(total).unwrap_or(0),
                limit: query.limit,
                offset: query.offset,
            })
        })
    }

    fn run_stats(&self, query: &RunQuery, durations: bool) -> StoreResult<RunStats> {
        let b = list::build(query)?;
        let counts_sql = b.statement(sql!("run_stats_counts"))?;
        let totals_sql = b.statement(sql!("run_stats_totals"))?;
        let at_sql = b.statement(sql!("run_stats_duration_at"))?;
        self.tx(true, |t| {
            let counts = t
                .query(&counts_sql, &b.params(&[]))?
                .iter()
                .map(|r| {
                    let c = Cols::new(r);
                    Ok((c.enumv("execution state", 0)?, c.u64(1)?))
                })
                .collect::<StoreResult<Vec<(ExecutionState, u64)>>>()?;
            let totals = t.query_one(&totals_sql, &b.params(&[]))?;
            let c = Cols::new(&totals);
            let triggerers: i64 = c.get(0)?;
            let oldest: Option<i64> = c.get(1)?;
            let with_duration = c.u64(2)?;
            let ranks = [50, 95].map(|p| workflow_core::nearest_rank(p, with_duration));
            let mut at = [None, None];
            if let (true, [Some(r50), Some(r95)]) = (durations, ranks) {
                // One sort of the durations, both ranks read from it (1-based row numbers).
                let r50 = codec::int(r50 + 1, "rank")?;
                let r95 = codec::int(r95 + 1, "rank")?;
                for row in t.query(&at_sql, &b.params(&[&r50, &r95]))? {
                    let c = Cols::new(&row);
                    let (rank, nanos): (i64, i64) = (c.get(0)?, c.get(1)?);
                    let seconds = Some(nanos as f64 / 1e9);
                    if rank == r50 {
                        at[0] = seconds;
                    }
                    if rank == r95 {
                        at[1] = seconds;
                    }
                }
            }
            Ok(RunStats {
                counts,
                distinct_triggerers: u64::try_from(triggerers).unwrap_or(0),
                duration_p50_seconds: at[0],
                duration_p95_seconds: at[1],
                oldest_completed_at: oldest.map(codec::from_ts),
            })
        })
    }

    fn count_runs_by_state(&self) -> StoreResult<Vec<(ExecutionState, u64)>> {
        self.rows(sql!("count_runs_by_state"), &[], |r| {
            let c = Cols::new(r);
            Ok((c.enumv("execution state", 0)?, c.u64(1)?))
        })
    }

    fn expired_runs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>> {
        let now = codec::bound(now);
        self.rows(sql!("expired_runs"), &[&now, &i64::from(limit)], |r| {
            let c = Cols::new(r);
            Ok((TenantId(c.uuid(0)?), RunId(c.uuid(1)?)))
        })
    }

    fn commit(&self, commit: Commit) -> StoreResult<CommitOutcome> {
        match self.tx(false, |t| {
            let outcome = self.commit_in(t, &commit)?;
            if outcome == CommitOutcome::Committed {
                Ok(outcome)
            } else {
                // A conflict writes nothing: roll back by failing the closure's transaction.
                Err(StoreError::backend("conflict").with_source(Conflicted(outcome)))
            }
        }) {
            Ok(o) => Ok(o),
            Err(e) => {
                if let Some(Conflicted(o)) = e
                    .source
                    .as_ref()
                    .and_then(|s| s.downcast_ref::<Conflicted>())
                {
                    return Ok(*o);
                }
                match conflict_of(&e) {
                    Some(Some(kind)) => Ok(CommitOutcome::Conflict(kind)),
                    Some(None) => Ok(CommitOutcome::Conflict(ConflictKind::Version {
                        current: self.current_version(commit.run_id)?,
                    })),
                    None => Err(e),
                }
            }
        }
    }

    fn history(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>> {
        self.rows(sql!("history"), &[&tenant.0, &run.0], history_from_row)
    }

    fn outbox_pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.rows(
            sql!("outbox_pending"),
            &[&i64::from(limit)],
            outbox_from_row,
        )
    }

    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let now = codec::bound(now);
        self.rows(
            sql!("outbox_due"),
            &[&i64::from(limit), &now],
            outbox_from_row,
        )
    }

    fn outbox_claim(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &OutboxLease,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let now = codec::bound(now);
        let until = codec::bound(lease.until);
        let owner: Uuid = lease.owner;
        // One statement (select and lease): its implicit transaction is all it needs. A lease
        // lost in a server crash only lets another relay claim the message sooner.
        let mut out = self
            .relay_query(
                sql!("outbox_claim"),
                &[&now, &i64::from(limit), &owner, &until],
            )?
            .iter()
            .map(outbox_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    fn outbox_record_attempt(
        &self,
        seq: u64,
        at: Timestamp,
        outcome: &Delivery,
    ) -> StoreResult<()> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(()); // no such entry: ignored, like any unknown seq
        };
        let (delivered, dead, error, next) = match outcome {
            Delivery::Delivered => (true, false, None, None),
            Delivery::Retry { error, next_try_at } => {
                (false, false, Some(error.as_str()), Some(ts(*next_try_at)?))
            }
            Delivery::Dead { error } => (false, true, Some(error.as_str()), None),
        };
        let at = ts(at)?;
        // A delivery mark needs no WAL flush of its own (see "Durability" in the crate doc).
        self.relay_query(
            sql!("outbox_record_attempt"),
            &[&seq, &delivered, &dead, &error, &next, &at],
        )
        .map(|_| ())
    }

    fn outbox_for_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>> {
        self.rows(
            sql!("outbox_for_run"),
            &[&tenant.0, &run.0],
            outbox_from_row,
        )
    }
}

/// Carries a conflict out of the commit's transaction closure (which rolls back on `Err`).
#[derive(Debug)]
struct Conflicted(CommitOutcome);

impl std::fmt::Display for Conflicted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Conflicted {}
