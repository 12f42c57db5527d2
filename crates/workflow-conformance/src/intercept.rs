//! One delegating [`Store`] wrapper for tests that need to step into store calls: inject
//! failures, yield the thread, hold a call at a gate, race a deletion in. The wrapper forwards
//! every call to the inner store after asking its [`Interceptor`].

use workflow_core::*;

/// Which [`Store`] method is being called, with the arguments hooks look at.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Call<'a> {
    /// `tenant`.
    Tenant,
    /// `user`.
    User,
    /// `user_by_api_key_digest` (also what `user_by_api_key` calls).
    UserByApiKey,
    /// `path_part(tenant, id)`.
    PathPart(TenantId, PathPartId),
    /// `children`.
    Children,
    /// `descendants`.
    Descendants,
    /// `definition`.
    Definition,
    /// `definitions`.
    Definitions,
    /// `apply_catalog`.
    ApplyCatalog,
    /// `load_run(tenant, id)`.
    LoadRun(TenantId, RunId),
    /// `run_id_by_name`.
    RunIdByName,
    /// `run_by_idempotency_key`.
    RunByIdempotencyKey,
    /// `list_runs`.
    ListRuns,
    /// `expired_runs`.
    ExpiredRuns,
    /// `commit`.
    Commit(&'a workflow_core::Commit),
    /// `history`.
    History,
    /// `outbox_pending`.
    OutboxPending,
    /// `outbox_due` or `outbox_claim`.
    OutboxDue,
    /// `outbox_record_attempt`.
    OutboxRecordAttempt,
    /// `outbox_for_run`.
    OutboxForRun,
}

/// What an [`Intercepted`] store asks before each call.
pub trait Interceptor<S>: Send + Sync {
    /// Called before every call; an `Err` is answered instead and the inner store is not
    /// called.
    fn before(&self, inner: &S, call: Call<'_>) -> StoreResult<()> {
        let _ = (inner, call);
        Ok(())
    }

    /// Called after `before` for a commit: `Some(answer)` is answered instead of committing.
    fn commit(
        &self,
        inner: &S,
        commit: &workflow_core::Commit,
    ) -> Option<StoreResult<CommitOutcome>> {
        let _ = (inner, commit);
        None
    }
}

/// A store that asks `hook` before forwarding each call to `inner`.
#[derive(Debug)]
pub struct Intercepted<S, I> {
    /// The wrapped store.
    pub inner: S,
    /// What is asked before each call.
    pub hook: I,
}

impl<S, I> Intercepted<S, I> {
    /// Wrap `inner`.
    pub fn new(inner: S, hook: I) -> Self {
        Intercepted { inner, hook }
    }
}

macro_rules! forward {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty => $call:expr;)*) => {
        $(fn $name(&self, $($a: $t),*) -> $r {
            self.hook.before(&self.inner, $call)?;
            self.inner.$name($($a),*)
        })*
    };
}

impl<S: Store, I: Interceptor<S>> Store for Intercepted<S, I> {
    forward! {
        tenant(id: TenantId) -> StoreResult<Option<Tenant>> => Call::Tenant;
        user(tenant: TenantId, id: UserId) -> StoreResult<Option<User>> => Call::User;
        user_by_api_key_digest(digest: &ApiKeyDigest) -> StoreResult<Option<User>> => Call::UserByApiKey;
        path_part(tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>> => Call::PathPart(tenant, id);
        children(tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>> => Call::Children;
        descendants(tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>> => Call::Descendants;
        definition(tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>> => Call::Definition;
        definitions(tenant: TenantId) -> StoreResult<Vec<Definition>> => Call::Definitions;
        scheduled_definitions() -> StoreResult<Vec<Definition>> => Call::Definitions;
        apply_catalog(writes: &[CatalogWrite]) -> StoreResult<()> => Call::ApplyCatalog;
        load_run(tenant: TenantId, id: RunId) -> StoreResult<Option<Run>> => Call::LoadRun(tenant, id);
        run_id_by_name(tenant: TenantId, definition: DefinitionId, name: &str) -> StoreResult<Option<RunId>> => Call::RunIdByName;
        run_by_idempotency_key(tenant: TenantId, definition: DefinitionId, user: UserId, key: &str) -> StoreResult<Option<Run>> => Call::RunByIdempotencyKey;
        list_runs(query: &RunQuery) -> StoreResult<Page<Run>> => Call::ListRuns;
        run_stats(query: &RunQuery, durations: bool) -> StoreResult<RunStats> => Call::ListRuns;
        count_runs_by_state() -> StoreResult<Vec<(ExecutionState, u64)>> => Call::ListRuns;
        expired_runs(now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>> => Call::ExpiredRuns;
        history(tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>> => Call::History;
        outbox_pending(limit: u32) -> StoreResult<Vec<OutboxEntry>> => Call::OutboxPending;
        outbox_due(now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>> => Call::OutboxDue;
        outbox_claim(now: Timestamp, limit: u32, lease: &OutboxLease) -> StoreResult<Vec<OutboxEntry>> => Call::OutboxDue;
        outbox_record_attempt(seq: u64, at: Timestamp, outcome: &Delivery) -> StoreResult<()> => Call::OutboxRecordAttempt;
        outbox_for_run(tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>> => Call::OutboxForRun;
    }

    fn commit(&self, commit: workflow_core::Commit) -> StoreResult<CommitOutcome> {
        self.hook.before(&self.inner, Call::Commit(&commit))?;
        if let Some(answer) = self.hook.commit(&self.inner, &commit) {
            return answer;
        }
        self.inner.commit(commit)
    }
}
