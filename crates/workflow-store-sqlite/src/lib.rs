//! # workflow-store-sqlite
//!
//! The durable, embedded [`workflow_core::Store`]: one SQLite file that several engines (threads
//! with their own [`SqliteStore`], or separate processes) can share.
//!
//! ## Schema
//!
//! Migrations are `.sql` files under `migrations/`, applied in order inside one
//! `BEGIN IMMEDIATE` transaction and tracked by `PRAGMA user_version`. A file whose
//! `user_version` is newer than this build, or that is not a SQLite database at all, is refused
//! with [`workflow_core::StoreErrorKind::Corrupt`] before a single byte is written.
//!
//! * catalog: `tenants`, `users`, `grants` (one row per path grant, in order), `path_parts`
//!   (materialized `path`; children are found through an index on the parent), `versions` (ingestion facts of
//!   `DOCUMENT_VERSION` parts), `definitions`;
//! * `runs`: live runs only. Every column LIST-1 filters or orders by is a real, indexed column
//!   (per tenant and per definition, for each of the three order times; state, approval and
//!   triggerer); name and idempotency key are unique per definition through unique indexes;
//!   structured values never filtered on (snapshot, input scope, folders, approval) are JSON
//!   text. A deleted run's row is removed, but its history stays, and an id that has history can
//!   never be inserted again (requirement 2 of the `Store` contract);
//! * `history` (primary key `(run_id, seq)`: no duplicates by construction) and `outbox`
//!   (`seq` is the rowid, the message is JSON, a partial index serves the pending queue).
//!
//! Ids are lowercase hyphenated UUID text, whose text order is the UUID order, so `ORDER BY id`
//! agrees with the in-memory reference adapter. Timestamps are INTEGER nanoseconds since the
//! epoch: exact round trips and a cheap order (times outside 1677..2262 are refused).
//!
//! ## Transaction shape
//!
//! [`Store::commit`] runs in one `BEGIN IMMEDIATE` transaction (shared with concurrent commits of
//! the same store under group commit, below): read the row's version, check the name
//! and idempotency key, write the row (an `INSERT`, or an `UPDATE ... WHERE id = ? AND version =
//! expected` that sets only the columns whose value changed, so untouched indexes are not
//! rewritten), its catalog changes, its history record and its outbox messages, then `COMMIT`.
//! Taking the write lock at `BEGIN` means the check and the write cannot interleave with another
//! writer, in this process or another. A version mismatch is returned as `Conflict`; any error
//! rolls the whole transaction back, so an `Err` has written nothing.
//!
//! Every statement is a cached prepared statement from `sql/*.sql`. Parameters are written
//! `+?1`: the bundled SQLite is built with STAT4, which otherwise re-plans an index-prefix lookup
//! each time a new value is bound (see `sql/README.md`).
//!
//! ## Group commit
//!
//! With [`SqliteOptions::group_commit`] (the default), concurrent [`Store::commit`] calls on one
//! `SqliteStore` share one transaction, so one WAL fsync acknowledges them all. Each caller
//! queues its commit (a bounded queue of 64); the first caller that finds no batch being written
//! takes the writer connection, then everything queued by then, and writes each commit inside
//! its own `SAVEPOINT`: a commit whose check answers `Conflict`, or that fails, is rolled back to
//! its savepoint alone and its caller gets that answer, while the others of the batch still
//! commit. Every caller is answered only after the batch's `COMMIT`; if the transaction fails as
//! a whole (`BEGIN`, a savepoint, the `COMMIT`), every caller of the batch gets an `Err` and
//! nothing of it was written, so nothing is ever half-acknowledged. The queue order is the
//! serialization order: a later commit of a batch sees the earlier ones' writes (versions,
//! names, idempotency keys), exactly as if they had committed one after the other. A lone caller
//! never waits for company: it finds the queue empty but for itself and writes a batch of one,
//! the same single transaction as with group commit off. Everything else is unchanged: `BEGIN
//! IMMEDIATE` with the busy timeout (another process may write the file), the durability
//! setting, and what the engine does after a commit (observers, the relay's wake-up), which
//! runs after `Store::commit` returned and so after the batch's `COMMIT`.
//!
//! Why on by default: a commit's answer means the same thing either way, a single caller is as
//! fast as before (the batch of one), and under concurrency at [`Durability::Full`] the fsync
//! per commit is what serializes writers: batching them is what a demanding user expects from a
//! durable store. `BENCHMARKS.md` has the numbers. Turn it off to get one transaction per
//! commit.
//!
//! ## Durability
//!
//! The database runs in WAL mode.
//! * [`Durability::Full`] (the default, `synchronous=FULL`): the WAL is fsynced before a commit
//!   returns, so an acknowledged transition survives a power loss.
//! * [`Durability::Normal`] (`synchronous=NORMAL`): the WAL is fsynced only at checkpoints. A
//!   commit survives the process being killed (the OS keeps the written pages) but the last
//!   transitions may be lost on a power loss or kernel crash. The database is never corrupted
//!   in either mode.
//!
//! One deliberate exception: a delivery mark ([`Store::outbox_record_attempt`]) always commits
//! without its own fsync. Losing it in a power loss only makes the relay offer the message again,
//! which the `Dispatcher` contract already requires runners to recognise (at-least-once, by
//! dispatch key); the next transition's fsync persists it anyway. This saves one fsync per dispatch
//! under `Full`.
//!
//! ## Concurrency
//!
//! One `SqliteStore` holds one writer connection behind a mutex (writers of one process queue on it
//! rather than spinning on SQLite's busy handler) and a list of idle reader connections. A read
//! runs on the writer connection whenever that is free (its page cache stays warm across its own
//! commits, where a separate reader must drop its cache after every commit: this halved the
//! engine's lifecycle time). Only when another thread holds the writer connection (committing, or
//! reading on it) does a read take a reader connection: an idle one from the list, else a newly
//! opened one. Readers in use are not capped; after a read at most 8 idle readers are kept and
//! any more are closed, so the number of connections follows the number of concurrent readers
//! (a host bounds it, as `workflow-http` does with its engine-call permits). WAL readers never
//! block the writer nor each other, so reads never wait for a commit. Across values and
//! processes, SQLite's file lock serializes writers; a writer that cannot get the lock within
//! [`SqliteOptions::busy_timeout`] gets a retryable
//! [`Unavailable`](workflow_core::StoreErrorKind::Unavailable) error (`service_unavailable`).
//! Because each commit is version-checked under the write lock and every read starts a fresh WAL
//! snapshot, operations on a run are linearizable (CONC-1) and a read after a commit sees it,
//! across threads and processes.
//!
//! ## Test hooks
//!
//! The cargo feature `fault-injection` (off by default) adds `SqliteStore::faults`, a hook that
//! makes the N-th storage call (or the next `COMMIT`) fail, and `SqliteStore::hold_writer` /
//! `queued_commits`, which let a test form a group-commit batch of its choosing; this crate's own
//! tests enable it. Without the feature the hooks and their per-call check are not compiled in.
//!
//! ## Example
//!
//! ```
//! use workflow_core::{Engine, Store, Tenant, TenantId};
//! use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("runs.sqlite");
//! let tenant = Tenant { id: TenantId(workflow_core::uuid::Uuid::new_v4()), name: "acme".into() };
//!
//! let engine = Engine::new(SqliteStore::open(&path)?);
//! engine.put_tenant(tenant.clone())?;
//! drop(engine);
//!
//! // Reopening (here with the faster, process-crash-safe durability) keeps everything.
//! let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
//! let store = SqliteStore::open_with(&path, options)?;
//! assert_eq!(store.tenant(tenant.id)?, Some(tenant));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod conn;
#[cfg(feature = "fault-injection")]
mod fault;
mod group;
mod list;

pub use conn::SCHEMA_VERSION;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub use fault::FaultPlan;
#[doc(hidden)]
pub use group::GroupCommitStats;

use codec::{
    definition_from_row, definition_params, history_from_row, history_params, outbox_from_row,
    outbox_params, part_from_row, run_from_row, run_params, ts, uuid_text, Cols,
};
use conn::map_err;
use rusqlite::types::Value;
use rusqlite::{
    params, CachedStatement, Connection, OptionalExtension, ToSql, TransactionBehavior,
};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use workflow_core::{
    ApiKeyDigest, CatalogWrite, Commit, CommitOutcome, CommitProbe, Definition, DefinitionId,
    Delivery, ExecutionState, Grant, HistoryRecord, OutboxEntry, Page, PathPart, PathPartId, Run,
    RunId, RunQuery, RunWrite, Store, StoreError, StoreResult, Tenant, TenantId, Timestamp, User,
    UserId,
};

/// What an acknowledged commit survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a returned `Committed` survives a power loss (one WAL fsync per
    /// commit). The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a returned `Committed` survives a process crash but not a power
    /// loss or kernel crash (the WAL is fsynced only at checkpoints). Faster writes.
    Normal,
}

/// Options of [`SqliteStore::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What a commit survives.
    pub durability: Durability,
    /// How long a call waits for another connection's lock before failing with a retryable
    /// `Unavailable` error.
    pub busy_timeout: Duration,
    /// Group commit: concurrent [`Store::commit`] calls on this store share one transaction
    /// and one fsync (see "Group commit" in the crate doc). On by default; off, every commit is
    /// its own transaction.
    pub group_commit: bool,
}

impl Default for SqliteOptions {
    /// [`Durability::Full`], a 5 second busy timeout and group commit on.
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            group_commit: true,
        }
    }
}

/// Idle reader connections kept per store; more are opened on demand under load (and closed
/// after use).
const MAX_IDLE_READERS: usize = 8;

/// The SQLite [`Store`]. `Send + Sync`: share one value between threads (behind an `Arc`), or
/// open the same file several times, in this process or others.
pub struct SqliteStore {
    path: PathBuf,
    options: SqliteOptions,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    group: group::Group,
    #[cfg(feature = "fault-injection")]
    faults: FaultPlan,
}

/// The writer connection, and whether it was left at `synchronous=NORMAL` by a delivery mark
/// (see [`Store::outbox_record_attempt`]) and must be restored before the next commit.
struct Writer {
    conn: Connection,
    relaxed: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection cannot leave a half-applied transaction: the
    // transaction guard rolls back on unwind, so the connection is usable either way.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("../sql/", $name, ".sql"))
    };
}

impl SqliteStore {
    /// Open (or create) the database at `path` with [`SqliteOptions::default`]: full
    /// durability and a 5 second busy timeout.
    ///
    /// # Errors
    ///
    /// `Corrupt` when the file is not a SQLite database or has a newer schema (the file is left
    /// untouched); `Unavailable` when another connection holds the lock past the timeout;
    /// `Backend` for I/O failures.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Open (or create) the database at `path` with explicit options. Errors as
    /// [`SqliteStore::open`].
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = conn::open_writer(&path, &options)?;
        Ok(SqliteStore {
            path,
            options,
            writer: Mutex::new(Writer {
                conn: writer,
                relaxed: false,
            }),
            readers: Mutex::new(Vec::new()),
            group: group::Group::default(),
            #[cfg(feature = "fault-injection")]
            faults: FaultPlan::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// The fault-injection hook of this store (tests only; feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// Group commit's batches so far (tests and benches).
    #[doc(hidden)]
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.group.stats()
    }

    /// Hold the writer connection until the returned guard is dropped, so that commits queue
    /// up into one group-commit batch (tests only; feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn hold_writer(&self) -> impl Sized + '_ {
        lock(&self.writer)
    }

    /// Commits queued for group commit and not yet taken by a batch (tests only; feature
    /// `fault-injection`).
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn queued_commits(&self) -> usize {
        self.group.queued()
    }

    /// A storage call: counted by the fault plan, which may fail it (feature
    /// `fault-injection`); without the feature, nothing.
    #[inline(always)]
    fn fault_point(&self) -> StoreResult<()> {
        #[cfg(feature = "fault-injection")]
        self.faults.check()?;
        Ok(())
    }

    /// The `COMMIT` of a write transaction: a storage call, and the one
    /// `FaultPlan::fail_next_commit` fails (feature `fault-injection`).
    #[inline(always)]
    fn commit_point(&self) -> StoreResult<()> {
        self.fault_point()?;
        #[cfg(feature = "fault-injection")]
        self.faults.check_commit()?;
        Ok(())
    }

    /// A prepared statement, counted by the fault plan.
    fn prep<'c>(&self, c: &'c Connection, sql: &str) -> StoreResult<CachedStatement<'c>> {
        self.fault_point()?;
        c.prepare_cached(sql).map_err(map_err)
    }

    /// Run `f` on the writer connection when it is free, else on an idle or new reader
    /// connection (see "Concurrency" in the crate doc). A single statement is its own consistent
    /// snapshot; `f` that runs several statements uses [`SqliteStore::read_tx`].
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        // An idle writer connection serves reads first: its page cache is current after its own
        // commits, whereas a reader connection must drop its cache whenever the WAL moved on.
        // When the writer is busy (another thread commits), a pooled reader serves the read
        // without waiting.
        if let Ok(w) = self.writer.try_lock() {
            return f(&w.conn);
        }
        let popped = lock(&self.readers).pop();
        let conn = match popped {
            Some(c) => c,
            None => conn::open_reader(&self.path, &self.options)?,
        };
        let result = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        result
    }

    /// Like [`SqliteStore::read`], inside one read transaction (one WAL snapshot for all of
    /// `f`'s statements).
    fn read_tx<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.read(|conn| {
            self.fault_point()?;
            let tx = conn.unchecked_transaction().map_err(map_err)?;
            let out = f(&tx)?;
            // Ending a read transaction cannot lose data; a failure here is still reported.
            tx.commit().map_err(map_err)?;
            Ok(out)
        })
    }

    /// Run `f` inside one `BEGIN IMMEDIATE` transaction on the writer connection; commit when
    /// it returns `Ok`, roll back (write nothing) when it returns `Err` or anything fails.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut w = lock(&self.writer);
        self.write_locked(&mut w, f)
    }

    /// [`SqliteStore::write`] on the writer connection the caller already holds.
    fn write_locked<T>(
        &self,
        w: &mut Writer,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.restore_full(w)?;
        self.write_on(&mut w.conn, f)
    }

    /// Undo a delivery mark's `synchronous=NORMAL` (see [`Store::outbox_record_attempt`])
    /// before a transition commits; a failure refuses the commit.
    fn restore_full(&self, w: &mut Writer) -> StoreResult<()> {
        if w.relaxed {
            w.conn
                .execute_batch("PRAGMA synchronous = FULL")
                .map_err(map_err)?;
            w.relaxed = false;
        }
        Ok(())
    }

    fn write_on<T>(
        &self,
        conn: &mut Connection,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.fault_point()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let out = f(&tx)?;
        self.commit_point()?;
        tx.commit().map_err(map_err)?;
        Ok(out)
    }

    fn exec(&self, c: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        self.prep(c, sql)?.execute(params).map_err(map_err)
    }

    fn grants(&self, c: &Connection, tenant: &str, user: &str) -> StoreResult<Vec<Grant>> {
        let mut stmt = self.prep(c, sql!("grants"))?;
        let mut rows = stmt.query(params![tenant, user]).map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            let c = Cols(row);
            out.push(Grant {
                path: c.text(0)?,
                capability: c.enumv("capability", 1)?,
            });
        }
        Ok(out)
    }

    fn with_grants(&self, c: &Connection, user: Option<User>) -> StoreResult<Option<User>> {
        match user {
            Some(mut u) => {
                u.grants = self.grants(c, &uuid_text(u.tenant_id.0), &uuid_text(u.id.0))?;
                Ok(Some(u))
            }
            None => Ok(None),
        }
    }

    fn apply_one(&self, c: &Connection, w: &CatalogWrite) -> StoreResult<()> {
        match w {
            CatalogWrite::Tenant(t) => {
                self.exec(c, sql!("upsert_tenant"), params![uuid_text(t.id.0), t.name])?;
            }
            CatalogWrite::User(u) => {
                let (tenant, id) = (uuid_text(u.tenant_id.0), uuid_text(u.id.0));
                self.exec(
                    c,
                    sql!("upsert_user"),
                    params![
                        tenant,
                        id,
                        u.role.as_str(),
                        u.first_name,
                        u.last_name,
                        u.api_key.as_ref().map(|d| d.as_bytes().as_slice())
                    ],
                )?;
                self.exec(c, sql!("delete_grants"), params![tenant, id])?;
                for (i, g) in u.grants.iter().enumerate() {
                    let pos = i64::try_from(i).unwrap_or(i64::MAX);
                    self.exec(
                        c,
                        sql!("insert_grant"),
                        params![tenant, id, pos, g.path, g.capability.as_str()],
                    )?;
                }
            }
            CatalogWrite::Definition(d) => {
                let p = definition_params(d)?;
                self.exec(
                    c,
                    sql!("upsert_definition"),
                    rusqlite::params_from_iter(p.iter()),
                )?;
            }
            CatalogWrite::PutPart(p) => {
                let (tenant, id) = (uuid_text(p.tenant_id.0), uuid_text(p.id.0));
                let approval = p.approval.as_ref().map(codec::to_json).transpose()?;
                self.exec(
                    c,
                    sql!("upsert_part"),
                    params![
                        tenant,
                        id,
                        p.kind.as_str(),
                        p.name,
                        p.parent_id.map(|x| uuid_text(x.0)),
                        p.path,
                        p.approval_state.as_str(),
                        approval,
                        ts(p.created_at)?
                    ],
                )?;
                match &p.version {
                    Some(v) => self.exec(
                        c,
                        sql!("upsert_version"),
                        params![tenant, id, v.ingestion.as_str(), v.active],
                    )?,
                    None => self.exec(c, sql!("delete_version"), params![tenant, id])?,
                };
            }
            CatalogWrite::RemoveDefinition(t, id) => {
                let (tenant, id) = (uuid_text(t.0), uuid_text(id.0));
                self.exec(c, sql!("delete_definition"), params![tenant, id])?;
            }
            CatalogWrite::RemovePart(t, id) => {
                let (tenant, id) = (uuid_text(t.0), uuid_text(id.0));
                self.exec(c, sql!("delete_part"), params![tenant, id])?;
                self.exec(c, sql!("delete_version"), params![tenant, id])?;
            }
            CatalogWrite::ActivateVersion {
                tenant,
                document,
                version,
            } => {
                self.exec(
                    c,
                    sql!("activate_version"),
                    params![
                        uuid_text(tenant.0),
                        uuid_text(document.0),
                        uuid_text(version.0)
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn parts(
        &self,
        c: &Connection,
        sql: &str,
        tenant: TenantId,
        id: PathPartId,
    ) -> StoreResult<Vec<PathPart>> {
        let mut stmt = self.prep(c, sql)?;
        let mut rows = stmt
            .query(params![uuid_text(tenant.0), uuid_text(id.0)])
            .map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            out.push(part_from_row(row)?);
        }
        Ok(out)
    }

    fn runs(
        &self,
        c: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> StoreResult<Vec<Run>> {
        let mut stmt = self.prep(c, sql)?;
        let mut rows = stmt.query(params).map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            out.push(run_from_row(row)?);
        }
        Ok(out)
    }

    fn outbox(
        &self,
        c: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let mut stmt = self.prep(c, sql)?;
        let mut rows = stmt.query(params).map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            out.push(outbox_from_row(row)?);
        }
        Ok(out)
    }

    fn exists(
        &self,
        c: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> StoreResult<bool> {
        self.prep(c, sql)?
            .query_row(params, |r| r.get::<_, bool>(0))
            .map_err(map_err)
    }

    /// Version-checked update that sets only the columns whose value changed, so unchanged
    /// indexes are not rewritten (fewer pages per commit).
    fn update_run(&self, c: &Connection, cm: &Commit, new: Vec<Value>) -> StoreResult<()> {
        let run_id = uuid_text(cm.run_id.0);
        let old = self
            .runs(
                c,
                sql!("load_run"),
                params![run_id, uuid_text(cm.tenant_id.0)],
            )?
            .pop()
            .ok_or_else(|| StoreError::backend("run row vanished under the write lock"))?;
        let old = run_params(&old)?;
        let mut set = String::new();
        let mut values: Vec<(String, Value)> = Vec::new();
        for (i, (column, value)) in codec::RUN_COLUMNS.iter().zip(new).enumerate() {
            if old.get(i) != Some(&value) {
                if !set.is_empty() {
                    set.push_str(", ");
                }
                set.push_str(&format!("{column} = :{column}"));
                values.push((format!(":{column}"), value));
            }
        }
        let expected = i64::try_from(cm.expected_version)
            .map_err(|_| StoreError::backend("version overflow"))?;
        values.push((":id".to_owned(), Value::Text(run_id)));
        values.push((":expected".to_owned(), Value::Integer(expected)));
        let sql = sql!("update_run").replace("/*SET*/", &set);
        let named: Vec<(&str, &dyn ToSql)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v as &dyn ToSql))
            .collect();
        let n = self.exec(c, &sql, named.as_slice())?;
        if n != 1 {
            // Cannot happen under the write lock; refuse rather than half-write.
            return Err(StoreError::backend("version-checked update matched no row"));
        }
        Ok(())
    }

    /// The body of [`Store::commit`], inside the IMMEDIATE transaction.
    fn commit_in(&self, c: &Connection, cm: &Commit) -> StoreResult<CommitOutcome> {
        let current = match cm.validate(&mut Probe { store: self, c })? {
            Ok(current) => current,
            Err(conflict) => return Ok(CommitOutcome::Conflict(conflict)),
        };
        let run_id = uuid_text(cm.run_id.0);
        match &cm.write {
            RunWrite::Put(run) => {
                let p = run_params(run)?;
                if current.is_none() {
                    self.exec(c, sql!("insert_run"), rusqlite::params_from_iter(p.iter()))?;
                } else {
                    self.update_run(c, cm, p)?;
                }
            }
            RunWrite::Delete => {
                self.exec(c, sql!("delete_run"), params![run_id])?;
            }
        }
        for w in &cm.catalog {
            self.apply_one(c, w)?;
        }
        let h = history_params(&cm.history)?;
        self.exec(
            c,
            sql!("insert_history"),
            rusqlite::params_from_iter(h.iter()),
        )?;
        for m in &cm.outbox {
            let p = outbox_params(m)?;
            self.exec(
                c,
                sql!("insert_outbox"),
                rusqlite::params_from_iter(p.iter()),
            )?;
        }
        Ok(CommitOutcome::Committed)
    }
}

/// [`Commit::validate`]'s questions, answered inside the commit's IMMEDIATE transaction (the
/// database's one write lock is held, so check-then-write is safe).
struct Probe<'a> {
    store: &'a SqliteStore,
    c: &'a Connection,
}

impl CommitProbe for Probe<'_> {
    fn current(&mut self, run: RunId) -> StoreResult<Option<(u64, TenantId)>> {
        let row: Option<(i64, String)> = self
            .store
            .prep(self.c, sql!("current_version"))?
            .query_row(params![uuid_text(run.0)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(map_err)?;
        row.map(|(v, t)| {
            let v = u64::try_from(v).map_err(|e| codec::corrupt("version", e))?;
            Ok((v, TenantId(codec::parse_uuid(&t)?)))
        })
        .transpose()
    }
    fn ever_used(&mut self, run: RunId) -> StoreResult<bool> {
        self.store
            .exists(self.c, sql!("id_ever_used"), params![uuid_text(run.0)])
    }
    fn name_taken(
        &mut self,
        definition: DefinitionId,
        name: &str,
        except: RunId,
    ) -> StoreResult<bool> {
        let p = params![uuid_text(definition.0), name, uuid_text(except.0)];
        self.store.exists(self.c, sql!("name_taken"), p)
    }
    fn idempotency_taken(
        &mut self,
        definition: DefinitionId,
        user: UserId,
        key: &str,
        except: RunId,
    ) -> StoreResult<bool> {
        let p = params![
            uuid_text(definition.0),
            uuid_text(user.0),
            key,
            uuid_text(except.0)
        ];
        self.store.exists(self.c, sql!("idempotency_taken"), p)
    }
}

fn named<'a>(p: &'a [(&'static str, Value)]) -> Vec<(&'static str, &'a dyn ToSql)> {
    p.iter().map(|(n, v)| (*n, v as &dyn ToSql)).collect()
}

impl Store for SqliteStore {
    fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.read(|c| {
            self.prep(c, sql!("tenant"))?
                .query_row(params![uuid_text(id.0)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()
                .map_err(map_err)?
                .map(|(id, name)| {
                    Ok(Tenant {
                        id: TenantId(codec::parse_uuid(&id)?),
                        name,
                    })
                })
                .transpose()
        })
    }

    fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        self.read_tx(|c| {
            let user = {
                let mut stmt = self.prep(c, sql!("user"))?;
                let mut rows = stmt
                    .query(params![uuid_text(tenant.0), uuid_text(id.0)])
                    .map_err(map_err)?;
                match rows.next().map_err(map_err)? {
                    Some(row) => Some(codec::user_from_row(row)?),
                    None => None,
                }
            };
            self.with_grants(c, user)
        })
    }

    fn user_by_api_key_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<User>> {
        self.read_tx(|c| {
            let user = {
                let mut stmt = self.prep(c, sql!("user_by_api_key"))?;
                let mut rows = stmt
                    .query(params![digest.as_bytes().as_slice()])
                    .map_err(map_err)?;
                match rows.next().map_err(map_err)? {
                    Some(row) => Some(codec::user_from_row(row)?),
                    None => None,
                }
            };
            self.with_grants(c, user)
        })
    }

    fn path_part(&self, tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>> {
        self.read(|c| Ok(self.parts(c, sql!("path_part"), tenant, id)?.pop()))
    }

    fn children(&self, tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>> {
        self.read(|c| self.parts(c, sql!("children"), tenant, parent))
    }

    fn descendants(&self, tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>> {
        self.read(|c| self.parts(c, sql!("descendants"), tenant, root))
    }

    fn definition(&self, tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>> {
        self.read(|c| {
            let mut stmt = self.prep(c, sql!("definition"))?;
            let mut rows = stmt
                .query(params![uuid_text(tenant.0), uuid_text(id.0)])
                .map_err(map_err)?;
            match rows.next().map_err(map_err)? {
                Some(row) => Ok(Some(definition_from_row(row)?)),
                None => Ok(None),
            }
        })
    }

    fn definitions(&self, tenant: TenantId) -> StoreResult<Vec<Definition>> {
        self.read(|c| {
            let mut stmt = self.prep(c, sql!("definitions"))?;
            let mut rows = stmt.query(params![uuid_text(tenant.0)]).map_err(map_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_err)? {
                out.push(definition_from_row(row)?);
            }
            Ok(out)
        })
    }

    fn scheduled_definitions(&self) -> StoreResult<Vec<Definition>> {
        self.read(|c| {
            let mut stmt = self.prep(c, sql!("scheduled_definitions"))?;
            let mut rows = stmt.query([]).map_err(map_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_err)? {
                out.push(definition_from_row(row)?);
            }
            Ok(out)
        })
    }

    fn apply_catalog(&self, writes: &[CatalogWrite]) -> StoreResult<()> {
        self.write(|c| writes.iter().try_for_each(|w| self.apply_one(c, w)))
    }

    fn load_run(&self, tenant: TenantId, id: RunId) -> StoreResult<Option<Run>> {
        self.read(|c| {
            Ok(self
                .runs(
                    c,
                    sql!("load_run"),
                    params![uuid_text(id.0), uuid_text(tenant.0)],
                )?
                .pop())
        })
    }

    fn run_id_by_name(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        name: &str,
    ) -> StoreResult<Option<RunId>> {
        self.read(|c| {
            let id: Option<String> = self
                .prep(c, sql!("run_id_by_name"))?
                .query_row(
                    params![uuid_text(tenant.0), uuid_text(definition.0), name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?;
            id.map(|s| codec::parse_uuid(&s).map(RunId)).transpose()
        })
    }

    fn run_by_idempotency_key(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        user: UserId,
        key: &str,
    ) -> StoreResult<Option<Run>> {
        self.read(|c| {
            Ok(self
                .runs(
                    c,
                    sql!("run_by_idempotency_key"),
                    params![
                        uuid_text(tenant.0),
                        uuid_text(definition.0),
                        uuid_text(user.0),
                        key
                    ],
                )?
                .pop())
        })
    }

    fn list_runs(&self, query: &RunQuery) -> StoreResult<Page<Run>> {
        let built = list::build(query)?;
        self.read_tx(|c| {
            let filter = named(&built.filter_params);
            let total: i64 = self
                .prep(c, &built.count_sql)?
                .query_row(filter.as_slice(), |r| r.get(0))
                .map_err(map_err)?;
            let mut all = filter;
            all.extend(named(&built.page_params));
            let items = self.runs(c, &built.list_sql, all.as_slice())?;
            Ok(Page {
                items,
                total: u64::try_from(total).unwrap_or(0),
                limit: query.limit,
                offset: query.offset,
            })
        })
    }

    fn run_stats(&self, query: &RunQuery, durations: bool) -> StoreResult<workflow_core::RunStats> {
        let built = list::build(query)?;
        let sql = |template: &str| template.replace("/*FILTERS*/", &built.filters);
        self.read_tx(|c| {
            let filter = named(&built.filter_params);
            let mut counts = Vec::new();
            let counts_sql = sql(include_str!("../sql/run_stats_counts.sql"));
            let mut stmt = self.prep(c, &counts_sql)?;
            let mut rows = stmt.query(filter.as_slice()).map_err(map_err)?;
            while let Some(row) = rows.next().map_err(map_err)? {
                let cols = Cols(row);
                counts.push((cols.enumv("execution state", 0)?, cols.u64(1)?));
            }
            let totals_sql = sql(include_str!("../sql/run_stats_totals.sql"));
            let (triggerers, oldest, with_duration): (i64, Option<i64>, Option<i64>) = self
                .prep(c, &totals_sql)?
                .query_row(filter.as_slice(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(map_err)?;
            let n = u64::try_from(with_duration.unwrap_or(0)).unwrap_or(0);
            let ranks = [50, 95].map(|p| workflow_core::nearest_rank(p, n));
            let mut at = [None, None];
            if let (true, [Some(r50), Some(r95)]) = (durations, ranks) {
                // One sort of the durations, both ranks read from it (1-based row numbers).
                let at_sql = sql(include_str!("../sql/run_stats_duration_at.sql"));
                let mut params = filter.clone();
                let (r50, r95) = (
                    i64::try_from(r50 + 1).unwrap_or(i64::MAX),
                    i64::try_from(r95 + 1).unwrap_or(i64::MAX),
                );
                params.push((":r50", &r50));
                params.push((":r95", &r95));
                let mut stmt = self.prep(c, &at_sql)?;
                let mut rows = stmt.query(params.as_slice()).map_err(map_err)?;
                while let Some(row) = rows.next().map_err(map_err)? {
                    let (rank, nanos): (i64, i64) =
                        (row.get(0).map_err(map_err)?, row.get(1).map_err(map_err)?);
                    let seconds = Some(nanos as f64 / 1e9);
                    if rank == r50 {
                        at[0] = seconds;
                    }
                    if rank == r95 {
                        at[1] = seconds;
                    }
                }
            }
            Ok(workflow_core::RunStats {
                counts,
                distinct_triggerers: u64::try_from(triggerers).unwrap_or(0),
                duration_p50_seconds: at[0],
                duration_p95_seconds: at[1],
                oldest_completed_at: oldest.map(codec::from_ts),
            })
        })
    }

    fn count_runs_by_state(&self) -> StoreResult<Vec<(ExecutionState, u64)>> {
        self.read(|c| {
            let mut stmt = self.prep(c, sql!("count_runs_by_state"))?;
            let mut rows = stmt.query([]).map_err(map_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_err)? {
                let cols = Cols(row);
                out.push((cols.enumv("execution state", 0)?, cols.u64(1)?));
            }
            Ok(out)
        })
    }

    fn expired_runs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>> {
        let now = ts(now)?;
        self.read(|c| {
            let mut stmt = self.prep(c, sql!("expired_runs"))?;
            let mut rows = stmt.query(params![now, limit]).map_err(map_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_err)? {
                let c = Cols(row);
                out.push((TenantId(c.uuid(0)?), RunId(c.uuid(1)?)));
            }
            Ok(out)
        })
    }

    fn commit(&self, commit: Commit) -> StoreResult<CommitOutcome> {
        if self.options.group_commit {
            self.commit_grouped(commit)
        } else {
            self.write(|c| self.commit_in(c, &commit))
        }
    }

    fn history(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>> {
        self.read(|c| {
            let mut stmt = self.prep(c, sql!("history"))?;
            let mut rows = stmt
                .query(params![uuid_text(tenant.0), uuid_text(run.0)])
                .map_err(map_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_err)? {
                out.push(history_from_row(row)?);
            }
            Ok(out)
        })
    }

    fn outbox_pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.read(|c| self.outbox(c, sql!("outbox_pending"), params![limit]))
    }

    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let now = ts(now)?;
        self.read(|c| self.outbox(c, sql!("outbox_due"), params![limit, now]))
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
                (false, false, Some(error), Some(ts(*next_try_at)?))
            }
            Delivery::Dead { error } => (false, true, Some(error), None),
        };
        let at = ts(at)?;
        // A delivery mark needs no fsync of its own: losing it in a power loss only makes the
        // relay offer the message again, which the Dispatcher contract already allows
        // (at-least-once, recognised by its dispatch key; a retry's backoff or a dead letter is
        // then decided again). So under `Durability::Full` this one
        // transaction commits with `synchronous=NORMAL`; the next transition's fsync persists it.
        let relax = self.options.durability == Durability::Full;
        let mut w = lock(&self.writer);
        if relax {
            w.conn
                .execute_batch("PRAGMA synchronous = NORMAL")
                .map_err(map_err)?;
            w.relaxed = true;
        }
        let result = self.write_on(&mut w.conn, |c| {
            self.exec(
                c,
                sql!("outbox_record_attempt"),
                params![seq, delivered, dead, error, next, at],
            )
            .map(|_| ())
        });
        if relax && w.conn.execute_batch("PRAGMA synchronous = FULL").is_ok() {
            w.relaxed = false;
        } // else: `write` restores FULL before the next commit, or refuses to commit.
        result
    }

    fn outbox_for_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>> {
        self.read(|c| {
            self.outbox(
                c,
                sql!("outbox_for_run"),
                params![uuid_text(tenant.0), uuid_text(run.0)],
            )
        })
    }
}
