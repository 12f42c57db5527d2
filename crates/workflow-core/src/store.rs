//! The ports: [`Store`] (persistence), [`Dispatcher`] (runners), [`Clock`] and [`IdGen`].
//! Adapters live in other crates; the conformance suite checks every `Store` requirement.

use crate::api_key::ApiKeyDigest;
use crate::error::StoreError;
use crate::ids::{DefinitionId, PathPartId, RunId, TenantId, UserId};
use crate::model::{
    ApprovalState, Cancel, Definition, Dispatch, ExecutionState, HistoryRecord, OutboxEntry,
    OutboxMessage, Page, PathPart, Run, RunOrder, SortDir, Tenant, TimeRange, Timestamp, User,
};
use crate::snapshot::{read_start_facts, StartFacts};
use uuid::Uuid;

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// What a commit does to the run row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunWrite {
    /// Insert (when `expected_version == 0`) or replace the row. `run.version` must equal
    /// `expected_version + 1`.
    Put(Box<Run>),
    /// Remove the row (DELETE-3). Its history stays.
    Delete,
}

/// A change to the knowledge-base catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogWrite {
    /// Insert or replace a tenant.
    Tenant(Tenant),
    /// Insert or replace a user (with its grants).
    User(User),
    /// Insert or replace a definition.
    Definition(Box<Definition>),
    /// Insert or replace a path part.
    PutPart(Box<PathPart>),
    /// Remove a path part (not its descendants: list each one).
    RemovePart(TenantId, PathPartId),
    /// Remove a definition row (DEF-3; its parts are removed with `RemovePart`).
    RemoveDefinition(TenantId, DefinitionId),
    /// Make `version` the only active DOCUMENT_VERSION of `document`: every other version of
    /// it becomes inactive, in the same atomic unit (requirement 10).
    ActivateVersion {
        /// The tenant.
        tenant: TenantId,
        /// The DOCUMENT.
        document: PathPartId,
        /// Its version to activate (written earlier in the same batch, or already stored).
        version: PathPartId,
    },
}

/// One atomic unit: the run row, its history record, its outbox messages and the catalog
/// changes of its folder, all version-checked against `expected_version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// The run.
    pub run_id: RunId,
    /// The version the decision was made on; `0` means "must not exist yet".
    pub expected_version: u64,
    /// The new row, or its deletion.
    pub write: RunWrite,
    /// Exactly one record, `seq == expected_version + 1` (AUDIT-1).
    pub history: HistoryRecord,
    /// Dispatches and cancels queued with the transition (CONC-5).
    pub outbox: Vec<OutboxMessage>,
    /// Changes to the run's folder subtree.
    pub catalog: Vec<CatalogWrite>,
    /// The written row keeps the unique keys of the expected version's row: the same
    /// definition, name, creator and idempotency key (see [`Commit::keys_unchanged`]). Then
    /// [`Commit::validate`] skips the name and idempotency-key checks: they held when that row
    /// was written, and the version check proves it is still the live row. `false` is always
    /// safe (every check runs); a creation is never unchanged.
    pub keys_unchanged: bool,
}

/// What a store knows about a commit's run and names, asked by [`Commit::validate`] in the
/// order the checks must run. A store with a global write lock answers from its data under that
/// lock; a store without one answers inside the commit's transaction (locking the run's row)
/// and keeps unique constraints as the backstop for what changes between the check and the
/// write (see [`Store`], requirement 3).
pub trait CommitProbe {
    /// The stored row of `run`: its version and tenant, or `None` when there is no live row.
    fn current(&mut self, run: RunId) -> StoreResult<Option<(u64, TenantId)>>;
    /// Whether `run` was ever used (a deleted run's id never comes back).
    fn ever_used(&mut self, run: RunId) -> StoreResult<bool>;
    /// Whether a live run of `definition` other than `except` has `name`.
    fn name_taken(
        &mut self,
        definition: DefinitionId,
        name: &str,
        except: RunId,
    ) -> StoreResult<bool>;
    /// Whether a live run of `definition` other than `except`, created by `user`, has `key`.
    fn idempotency_taken(
        &mut self,
        definition: DefinitionId,
        user: UserId,
        key: &str,
        except: RunId,
    ) -> StoreResult<bool>;
}

impl Commit {
    /// Whether `after` keeps `before`'s unique keys (definition, name, creator, idempotency
    /// key): the value of [`Commit::keys_unchanged`] for a write of `after` decided on `before`.
    pub fn keys_unchanged(before: &Run, after: &Run) -> bool {
        before.definition_id == after.definition_id
            && before.name == after.name
            && before.triggered_by == after.triggered_by
            && before.idempotency_key == after.idempotency_key
    }

    /// The checks every store makes before writing (requirements 2 and 3), in one place and one
    /// order: the version check, then the commit's own consistency (its history record and row
    /// follow the expected version: a malformed commit is `Err(Backend)`), then the name, then
    /// the idempotency key.
    ///
    /// `Ok(Ok(current))`: write it; `current` is the stored version (`None`: insert a new row).
    /// `Ok(Err(kind))`: answer [`CommitOutcome::Conflict`] and write nothing.
    pub fn validate(
        &self,
        probe: &mut impl CommitProbe,
    ) -> StoreResult<Result<Option<u64>, ConflictKind>> {
        let current = probe.current(self.run_id)?;
        let version_ok = match (self.expected_version, current) {
            (0, None) => !probe.ever_used(self.run_id)?,
            (v, Some((cur, tenant))) => v == cur && tenant == self.tenant_id,
            _ => false,
        };
        if !version_ok {
            return Ok(Err(ConflictKind::Version {
                current: current.map(|(v, _)| v),
            }));
        }
        if self.history.seq != self.expected_version + 1 || self.history.run_id != self.run_id {
            return Err(StoreError::backend(
                "history record does not follow the expected version",
            ));
        }
        if let RunWrite::Put(run) = &self.write {
            if run.version != self.expected_version + 1
                || run.id != self.run_id
                || run.tenant_id != self.tenant_id
            {
                return Err(StoreError::backend("run row does not match its commit"));
            }
            if self.keys_unchanged && current.is_some() {
                return Ok(Ok(current.map(|(v, _)| v)));
            }
            if probe.name_taken(run.definition_id, &run.name, run.id)? {
                return Ok(Err(ConflictKind::NameTaken));
            }
            if let Some(key) = &run.idempotency_key {
                if probe.idempotency_taken(run.definition_id, run.triggered_by, key, run.id)? {
                    return Ok(Err(ConflictKind::IdempotencyKey));
                }
            }
        }
        Ok(Ok(current.map(|(v, _)| v)))
    }
}

/// A relay's lease on the outbox messages it claimed (SCALE-2): until `until`, no other owner
/// is offered them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxLease {
    /// The claiming relay (one per engine instance).
    pub owner: uuid::Uuid,
    /// The lease ends here; a relay that died holding it leaves its messages to others then.
    pub until: Timestamp,
}

/// Why a commit was not applied. Not an error: reload and decide again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    /// The row's version is not `expected_version` (or it exists when 0 was expected, or it is
    /// gone).
    Version {
        /// The row's version now; `None` when there is no row.
        current: Option<u64>,
    },
    /// Another live run of the definition has this name (CREATE-4).
    NameTaken,
    /// Another live run of the definition has the same creator and idempotency key (CREATE-6).
    IdempotencyKey,
}

/// Result of [`Store::commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Everything was written.
    Committed,
    /// Nothing was written.
    Conflict(ConflictKind),
}

/// What became of one delivery attempt of an outbox message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The dispatcher accepted it: it is never offered again.
    Delivered,
    /// It failed and is offered again from `next_try_at` (DISP-4).
    Retry {
        /// Why it failed.
        error: String,
        /// Not before this.
        next_try_at: Timestamp,
    },
    /// It will never be delivered: dead-lettered, never offered again (DISP-5).
    Dead {
        /// Why.
        error: String,
    },
}

/// Who may appear in a listing (LIST-1 "only runs the actor can read"), passed to the store as
/// path prefixes so that it never has to load the tenant's definitions to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Every run of the tenant (OWNER/ADMIN).
    All,
    /// Runs of the definitions the actor can read, plus runs triggered by the actor.
    Only {
        /// The actor's grant paths, without a trailing `/`, sorted and distinct: a definition
        /// is readable when one of them covers its path ([`crate::policy::path_covers`]: the
        /// path itself or a path below it; the empty path covers every path).
        paths: Vec<String>,
        /// The actor, who can read its own runs.
        or_triggered_by: UserId,
    },
}

impl Visibility {
    /// What `actor` holding `grants` can read: everything for OWNER/ADMIN, else the grant
    /// paths and its own runs (the rule `policy::can_read_path` applies to one definition).
    pub fn of(actor: &crate::model::Actor, grants: &[crate::model::Grant]) -> Visibility {
        if actor.role.is_admin() {
            return Visibility::All;
        }
        let mut paths: Vec<String> = grants
            .iter()
            .map(|g| g.path.trim_end_matches('/').to_owned())
            .collect();
        paths.sort();
        paths.dedup();
        Visibility::Only {
            paths,
            or_triggered_by: actor.user_id,
        }
    }

    /// Whether a run triggered by `triggered_by`, of a definition at `definition_path`
    /// (`None`: the definition no longer exists), is visible.
    pub fn admits(&self, triggered_by: UserId, definition_path: Option<&str>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Only {
                paths,
                or_triggered_by,
            } => {
                triggered_by == *or_triggered_by
                    || definition_path
                        .is_some_and(|d| paths.iter().any(|p| crate::policy::path_covers(p, d)))
            }
        }
    }
}

/// Runs named by definition, or by (definition, name): the runs an actor may approve
/// (`approvable_by_me`, APPROVE-5), as the grants covering them allow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSet {
    /// Every run of these definitions.
    pub definitions: Vec<DefinitionId>,
    /// These single runs: (definition, run name).
    pub runs: Vec<(DefinitionId, String)>,
}

impl RunSet {
    /// Whether `run` is in the set.
    pub fn contains(&self, run: &Run) -> bool {
        self.definitions.contains(&run.definition_id)
            || self
                .runs
                .iter()
                .any(|(d, n)| *d == run.definition_id && *n == run.name)
    }
}

/// A run listing query, already validated and scoped by the engine (LIST-1, LIST-2). Every
/// filter is answered by the store (pushed into its query, LIST-3), never after loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunQuery {
    /// Tenant scope.
    pub tenant_id: TenantId,
    /// One definition, or the whole tenant.
    pub definition_id: Option<DefinitionId>,
    /// Any of these execution states; empty: all.
    pub states: Vec<ExecutionState>,
    /// Any of these approval states; empty: all.
    pub approval_states: Vec<ApprovalState>,
    /// Filter on the triggerer ("mine", `owner_id`).
    pub triggered_by: Option<UserId>,
    /// `created_at` window.
    pub created: TimeRange,
    /// `updated_at` window.
    pub updated: TimeRange,
    /// Only these runs (`approvable_by_me`); `None`: no such filter.
    pub within: Option<RunSet>,
    /// Permission scope.
    pub visibility: Visibility,
    /// Sort key; runs without it come last in either direction; ties by id in the same
    /// direction.
    pub order: RunOrder,
    /// Newest (largest) first, or oldest.
    pub dir: SortDir,
    /// 1..=100.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

impl RunQuery {
    /// Every run of `tenant`, newest first by creation, the first 100 (add filters with struct
    /// update syntax).
    pub fn all(tenant_id: TenantId) -> Self {
        RunQuery {
            tenant_id,
            definition_id: None,
            states: Vec::new(),
            approval_states: Vec::new(),
            triggered_by: None,
            created: TimeRange::default(),
            updated: TimeRange::default(),
            within: None,
            visibility: Visibility::All,
            order: RunOrder::CreatedAt,
            dir: SortDir::Desc,
            limit: 100,
            offset: 0,
        }
    }

    /// Whether `r`, a run of the definition at `definition_path` (`None`: no such definition),
    /// matches every filter and the visibility (the meaning each store's query must have; the
    /// memory store uses it directly).
    pub fn matches(&self, r: &Run, definition_path: Option<&str>) -> bool {
        r.tenant_id == self.tenant_id
            && self.definition_id.is_none_or(|d| r.definition_id == d)
            && (self.states.is_empty() || self.states.contains(&r.execution_state))
            && (self.approval_states.is_empty() || self.approval_states.contains(&r.approval_state))
            && self.triggered_by.is_none_or(|u| r.triggered_by == u)
            && self.created.contains(r.created_at)
            && self.updated.contains(r.updated_at)
            && self.within.as_ref().is_none_or(|w| w.contains(r))
            && self.visibility.admits(r.triggered_by, definition_path)
    }

    /// The sort key of `r` under this query's order.
    pub fn sort_key(&self, r: &Run) -> Option<Timestamp> {
        match self.order {
            RunOrder::CreatedAt => Some(r.created_at),
            RunOrder::StartedAt => r.started_at,
            RunOrder::CompletedAt => r.completed_at,
        }
    }

    /// The listing order of two matching runs: by the sort key in the query's direction, runs
    /// without it last, ties by id in the same direction.
    pub fn compare(&self, a: &Run, b: &Run) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let by_key = match (self.sort_key(a), self.sort_key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
        .then_with(|| a.id.cmp(&b.id));
        match self.dir {
            SortDir::Asc => by_key,
            SortDir::Desc => by_key.reverse(),
        }
    }
}

/// Aggregates over the runs a [`RunQuery`] matches (its order, limit and offset are ignored):
/// what the summary (SUM-1) needs, computed by the store, not by loading runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStats {
    /// Matching runs per execution state (states without runs may be left out).
    pub counts: Vec<(ExecutionState, u64)>,
    /// Distinct triggerers among them.
    pub distinct_triggerers: u64,
    /// Durations (`completed_at - started_at`, seconds) of the terminal ones that have both
    /// times: the nearest-rank 50th percentile.
    pub duration_p50_seconds: Option<f64>,
    /// The nearest-rank 95th percentile of the same.
    pub duration_p95_seconds: Option<f64>,
    /// The earliest `completed_at` among them.
    pub oldest_completed_at: Option<Timestamp>,
}

/// The nearest-rank percentile `p` (0 < p ≤ 100) of `n` sorted values: the 0-based index of
/// the value to take, `ceil(p/100 * n) - 1`; `None` when `n == 0`. Stores share it so that
/// every adapter picks the same element.
pub fn nearest_rank(p: u32, n: u64) -> Option<u64> {
    (n > 0).then(|| (u64::from(p) * n).div_ceil(100).max(1) - 1)
}

/// Persistence of runs, their history and outbox, and the catalog.
///
/// # Correctness requirements
///
/// 1. **Atomic commit.** [`Store::commit`] applies the run write, the history record, the outbox
///    messages and the catalog writes all together or none of them, even if the process dies
///    mid-call.
/// 2. **Version check.** A commit applies only if the stored row's version equals
///    `expected_version` (`0`: no row with that id may exist, and none may have existed and been
///    deleted); otherwise it returns `Conflict(Version)` and writes nothing. A deleted run's id
///    never comes back.
/// 3. **Uniqueness.** A commit that would give two live runs of one definition the same name, or
///    the same `(triggered_by, idempotency_key)`, returns the matching `Conflict` and writes
///    nothing. Requirements 2 and 3 are checked by [`Commit::validate`] in one order (version,
///    name, key); a store answers its [`CommitProbe`] questions. A store with a global write
///    lock answers them under the lock. A store without one (several processes on one
///    database) must not rely on check-then-write: it locks the run's row for the version
///    check (or makes the write itself version-checked, `UPDATE … WHERE version = n`), keeps
///    tombstones of used ids under a primary key, and holds unique constraints on the live
///    names and keys; a unique violation it hits at write time maps to the matching
///    `Conflict`, a serialization failure or deadlock to `Conflict(Version)` or `Unavailable`.
/// 4. **Linearizable.** Commits on one run are serialized; a `load_run` after a committed
///    commit returns it (read-your-writes across threads and, for shared stores, processes).
/// 5. **History.** Records of a run are returned in `seq` order; `seq` starts at 1 and has no gaps.
/// 6. **Outbox.** Entries get increasing `seq`; `outbox_pending` returns the pending
///    (undelivered, not dead-lettered) entries in `seq` order; `outbox_due(now, ..)` those of
///    them whose `next_try_at` is not after `now` **and** that have no earlier pending entry of
///    the same run (a run's messages are delivered in order). `outbox_record_attempt` applies
///    [`OutboxEntry::after`]: a delivered or dead entry never changes again and is never
///    offered again; recording on an unknown `seq` is ignored. `outbox_claim` returns what
///    `outbox_due` would, minus the entries another owner holds an unexpired
///    [`OutboxLease`] on, and leases them to the caller; recording an attempt ends the lease.
///    A store only one process relays from (memory, SQLite) may ignore leases (the default).
/// 7. **Tenant isolation.** Every read is scoped by tenant: another tenant's id is `None`.
/// 8. **Errors.** An `Err` means nothing was written. `Unavailable` is for transient contention
///    (safe to retry); `Corrupt` for data that cannot be read; `Backend` for the rest.
/// 9. **Durability.** Each adapter documents what survives a crash; a returned `Committed`
///    must survive at least a process crash.
/// 10. **One active version.** [`CatalogWrite::ActivateVersion`] deactivates every other
///     version of the document within the same atomic unit, and two racing batches that each
///     activate a version of one document are serialized (a global write lock does it; a store
///     without one must lock the document's row first), so a document never ends with two
///     active versions.
pub trait Store: Send + Sync {
    // ---- catalog reads
    /// A tenant.
    fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// A user of a tenant.
    fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    /// The user whose API key has this digest, in any tenant (SEC-3: lookup is by digest; a
    /// store holds no key in clear).
    fn user_by_api_key_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<User>>;
    /// The user holding this API key in clear, in any tenant: the lookup by its
    /// [`ApiKeyDigest::of`]. Adapters implement [`Store::user_by_api_key_digest`] only.
    fn user_by_api_key(&self, key: &str) -> StoreResult<Option<User>> {
        self.user_by_api_key_digest(&ApiKeyDigest::of(key))
    }
    /// A path part of a tenant.
    fn path_part(&self, tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>>;
    /// Direct children of a path part, ordered by path.
    fn children(&self, tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>>;
    /// All descendants of a path part (not itself), ordered by path.
    fn descendants(&self, tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>>;
    /// A definition of a tenant.
    fn definition(&self, tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>>;
    /// All definitions of a tenant, ordered by id.
    fn definitions(&self, tenant: TenantId) -> StoreResult<Vec<Definition>>;
    /// Every tenant's definitions that carry a schedule, ordered by tenant and id: what the
    /// scheduler reads each tick (SCHED-3).
    fn scheduled_definitions(&self) -> StoreResult<Vec<Definition>>;
    /// Apply catalog writes atomically (upserts: applying the same writes twice changes
    /// nothing the second time).
    fn apply_catalog(&self, writes: &[CatalogWrite]) -> StoreResult<()>;

    // ---- runs
    /// A live run of a tenant.
    fn load_run(&self, tenant: TenantId, id: RunId) -> StoreResult<Option<Run>>;
    /// A live run of a tenant with its definition (`None` beside the run when the definition
    /// is missing): what every call on a run reads first. The default makes the two reads; a
    /// networked store answers in one round trip (it need not be one snapshot: a definition
    /// is never changed in a way the run's rules depend on between the two).
    fn load_run_with_definition(
        &self,
        tenant: TenantId,
        id: RunId,
    ) -> StoreResult<Option<(Run, Option<Definition>)>> {
        let Some(run) = self.load_run(tenant, id)? else {
            return Ok(None);
        };
        let def = self.definition(run.tenant_id, run.definition_id)?;
        Ok(Some((run, def)))
    }
    /// The live run of `definition` with this name.
    fn run_id_by_name(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        name: &str,
    ) -> StoreResult<Option<RunId>>;
    /// The live run of `definition` created by `user` with this idempotency key.
    fn run_by_idempotency_key(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        user: UserId,
        key: &str,
    ) -> StoreResult<Option<Run>>;
    /// A page of runs.
    fn list_runs(&self, query: &RunQuery) -> StoreResult<Page<Run>>;
    /// Aggregates over the runs `query` matches (SUM-1); its order and paging are ignored.
    /// The duration percentiles are computed only when `durations` (else `None`).
    fn run_stats(&self, query: &RunQuery, durations: bool) -> StoreResult<RunStats>;
    /// How many live runs are in each execution state, over all tenants (operators' metrics,
    /// DISP-7); states without runs may be left out.
    fn count_runs_by_state(&self) -> StoreResult<Vec<(ExecutionState, u64)>>;
    /// IN_PROGRESS runs whose `deadline_at` is strictly before `now`, oldest deadline first.
    fn expired_runs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>>;
    /// The one atomic write. See the correctness requirements.
    fn commit(&self, commit: Commit) -> StoreResult<CommitOutcome>;
    /// Everything a Start reads of the catalog in one call (a networked store can answer it in
    /// one round trip): the definition's instruction, the run's input scope, its uploads with
    /// their active versions, and the definition's common files, each resolved in `tenant`.
    /// The default asks [`Store::path_part`] and [`Store::children`] part by part.
    fn start_facts(&self, run: &Run, def: &Definition) -> StoreResult<StartFacts> {
        read_start_facts(self, run, def)
    }

    // ---- history and outbox
    /// The history of a run (also after its deletion), in `seq` order.
    fn history(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>>;
    /// Pending (undelivered, not dead) outbox entries in `seq` order, at most `limit`.
    fn outbox_pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    /// Pending entries due at `now` and first in their run's queue, in `seq` order, at most
    /// `limit` (requirement 6).
    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>>;
    /// Claim the due entries for one relay (requirement 6, SCALE-2): those `outbox_due` returns
    /// that no other owner holds an unexpired lease on, leased to `lease.owner` until
    /// `lease.until`. The default ignores leases: right for stores one process relays from.
    fn outbox_claim(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &OutboxLease,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let _ = lease;
        self.outbox_due(now, limit)
    }
    /// Record one delivery attempt made at `at` (requirement 6). Unknown `seq` is ignored.
    fn outbox_record_attempt(&self, seq: u64, at: Timestamp, outcome: &Delivery)
        -> StoreResult<()>;
    /// All outbox entries of a run (delivered or not), in `seq` order.
    fn outbox_for_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>>;
}

/// Why a dispatcher failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dispatch failed (retryable: {retryable}): {message}")]
pub struct DispatchError {
    /// `true`: a transient failure, retried with backoff (DISP-4). `false`: a permanent
    /// refusal; the message is dead-lettered at once (DISP-5).
    pub retryable: bool,
    /// Detail.
    pub message: String,
    /// The runner asked not to be called again before this long (HTTP `Retry-After`, HOOK-1).
    /// The relay waits the longer of this and its own backoff, this capped at the backoff cap
    /// ([`crate::rules::RelayPolicy::after_failure`]). Meaningless on a permanent error.
    pub retry_after: Option<std::time::Duration>,
}

impl DispatchError {
    /// A transient failure: retried with backoff (DISP-4).
    pub fn transient(message: impl Into<String>) -> Self {
        DispatchError {
            retryable: true,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A permanent refusal: dead-lettered at once (DISP-5).
    pub fn permanent(message: impl Into<String>) -> Self {
        DispatchError {
            retryable: false,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, asking the relay to wait at least `wait` before the next try.
    pub fn with_retry_after(self, wait: Option<std::time::Duration>) -> Self {
        DispatchError {
            retry_after: wait,
            ..self
        }
    }
}

/// Hands attempts to runners.
///
/// # Correctness requirements
///
/// 1. Called only after the transition that queued the message has committed.
/// 2. Must tolerate the same [`crate::DispatchKey`] more than once (at-least-once delivery):
///    recognise a redelivery by the key and do nothing new.
/// 3. An `Err` never un-commits anything. A retryable one leaves the message queued and it is
///    offered again after a backoff (DISP-4); a permanent one (or one still failing after the
///    relay's tries and time) dead-letters it (DISP-5).
/// 4. A cancel is best effort: a runner may already have finished; cancelling an attempt that
///    already finished or never arrived must succeed (DISP-3).
/// 5. It may be called from several relay threads at once (for different runs).
pub trait Dispatcher: Send + Sync {
    /// Start an attempt.
    fn dispatch(&self, message: &Dispatch) -> Result<(), DispatchError>;
    /// Abandon an attempt.
    fn cancel(&self, message: &Cancel) -> Result<(), DispatchError>;
}

/// A dispatcher that accepts everything and does nothing: dispatches are recorded in the outbox
/// only, for an outside runner that posts callbacks.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopDispatcher;

impl Dispatcher for NoopDispatcher {
    fn dispatch(&self, _: &Dispatch) -> Result<(), DispatchError> {
        Ok(())
    }
    fn cancel(&self, _: &Cancel) -> Result<(), DispatchError> {
        Ok(())
    }
}

/// The time source. The engine reads it once per call and passes the value into the rules.
///
/// # Correctness requirements
///
/// `now()` must not panic. It need not be monotonic: rules compare only times they were given.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// A clock tests set by hand.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: Timestamp) -> Self {
        ManualClock(std::sync::Mutex::new(t))
    }
    /// Move it forward (or back, with a negative duration).
    pub fn advance(&self, d: chrono::Duration) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g += d;
    }
    /// Set it.
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The source of new ids.
///
/// # Correctness requirements
///
/// Ids must be unique across the store's lifetime (collisions surface as commit conflicts).
pub trait IdGen: Send + Sync {
    /// A fresh id.
    fn new_id(&self) -> Uuid;
}

/// Random v4 UUIDs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdGen for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Deterministic ids for tests and simulations: v5 UUIDs of a seed and a counter.
#[derive(Debug)]
pub struct SeqIds {
    seed: Uuid,
    next: std::sync::atomic::AtomicU64,
}

impl SeqIds {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SeqIds {
            seed: Uuid::from_u64_pair(seed, 0x5eed),
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl IdGen for SeqIds {
    fn new_id(&self) -> Uuid {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Uuid::new_v5(&self.seed, &n.to_le_bytes())
    }
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        (**self).tenant(id)
    }
    fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        (**self).user(tenant, id)
    }
    fn user_by_api_key_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<User>> {
        (**self).user_by_api_key_digest(digest)
    }
    fn path_part(&self, tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>> {
        (**self).path_part(tenant, id)
    }
    fn children(&self, tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>> {
        (**self).children(tenant, parent)
    }
    fn descendants(&self, tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>> {
        (**self).descendants(tenant, root)
    }
    fn definition(&self, tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>> {
        (**self).definition(tenant, id)
    }
    fn definitions(&self, tenant: TenantId) -> StoreResult<Vec<Definition>> {
        (**self).definitions(tenant)
    }
    fn scheduled_definitions(&self) -> StoreResult<Vec<Definition>> {
        (**self).scheduled_definitions()
    }
    fn apply_catalog(&self, writes: &[CatalogWrite]) -> StoreResult<()> {
        (**self).apply_catalog(writes)
    }
    fn load_run(&self, tenant: TenantId, id: RunId) -> StoreResult<Option<Run>> {
        (**self).load_run(tenant, id)
    }
    fn load_run_with_definition(
        &self,
        tenant: TenantId,
        id: RunId,
    ) -> StoreResult<Option<(Run, Option<Definition>)>> {
        (**self).load_run_with_definition(tenant, id)
    }
    fn run_id_by_name(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        name: &str,
    ) -> StoreResult<Option<RunId>> {
        (**self).run_id_by_name(tenant, definition, name)
    }
    fn run_by_idempotency_key(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        user: UserId,
        key: &str,
    ) -> StoreResult<Option<Run>> {
        (**self).run_by_idempotency_key(tenant, definition, user, key)
    }
    fn list_runs(&self, query: &RunQuery) -> StoreResult<Page<Run>> {
        (**self).list_runs(query)
    }
    fn run_stats(&self, query: &RunQuery, durations: bool) -> StoreResult<RunStats> {
        (**self).run_stats(query, durations)
    }
    fn count_runs_by_state(&self) -> StoreResult<Vec<(ExecutionState, u64)>> {
        (**self).count_runs_by_state()
    }
    fn expired_runs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>> {
        (**self).expired_runs(now, limit)
    }
    fn commit(&self, commit: Commit) -> StoreResult<CommitOutcome> {
        (**self).commit(commit)
    }
    fn history(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>> {
        (**self).history(tenant, run)
    }
    fn outbox_pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        (**self).outbox_pending(limit)
    }
    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        (**self).outbox_due(now, limit)
    }
    fn outbox_claim(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &OutboxLease,
    ) -> StoreResult<Vec<OutboxEntry>> {
        (**self).outbox_claim(now, limit, lease)
    }
    fn start_facts(&self, run: &Run, def: &Definition) -> StoreResult<StartFacts> {
        (**self).start_facts(run, def)
    }
    fn outbox_record_attempt(
        &self,
        seq: u64,
        at: Timestamp,
        outcome: &Delivery,
    ) -> StoreResult<()> {
        (**self).outbox_record_attempt(seq, at, outcome)
    }
    fn outbox_for_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>> {
        (**self).outbox_for_run(tenant, run)
    }
}
