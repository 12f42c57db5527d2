//! # workflow-store-memory
//!
//! The [`Store`] of `workflow-core` held in memory behind one [`Mutex`]: every call, reads and
//! the atomic commit alike, runs under the lock, so commits are trivially atomic and
//! linearizable. Nothing survives the process (durability requirement 9 is met only for the
//! process's lifetime); use `workflow-store-sqlite` for that.
//!
//! Indexes (children by parent, runs by name and by idempotency key) keep every call's cost
//! independent of the number of unrelated runs, except listing and reaping, which scan.
//!
//! ## Example
//!
//! ```
//! use workflow_core::{Engine, Store, TenantId, RunId};
//! use workflow_store_memory::MemoryStore;
//!
//! let store = MemoryStore::new();
//! let tenant = TenantId(workflow_core::uuid::Uuid::new_v4());
//! assert!(store.load_run(tenant, RunId(workflow_core::uuid::Uuid::new_v4())).unwrap().is_none());
//! let _engine = Engine::new(store);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// The store's hash maps use foldhash, hashbrown's own default: fast and randomly seeded, which
/// its authors call "minimally DoS-resistant" (an attacker studying a long-running process
/// could craft colliding names; SQLite or PostgreSQL is the store for such a deployment).
/// SipHash, std's default, was 16 % of a lifecycle's instructions (`scripts/bench.sh
/// callgrind`: 92 116 → 80 962 per lifecycle).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use workflow_core::{
    nearest_rank, ApiKeyDigest, CatalogWrite, Commit, CommitOutcome, CommitProbe, Definition,
    DefinitionId, Delivery, ExecutionState, HistoryRecord, OutboxEntry, Page, PathPart, PathPartId,
    Run, RunId, RunQuery, RunStats, RunWrite, Store, StoreResult, Tenant, TenantId, Timestamp,
    User, UserId,
};

#[derive(Default)]
struct Inner {
    tenants: HashMap<TenantId, Tenant>,
    users: HashMap<(TenantId, UserId), User>,
    parts: HashMap<(TenantId, PathPartId), PathPart>,
    children: HashMap<(TenantId, PathPartId), BTreeSet<PathPartId>>,
    definitions: BTreeMap<(TenantId, DefinitionId), Definition>,
    runs: HashMap<RunId, Run>,
    ever: HashSet<RunId>,
    names: HashMap<(DefinitionId, String), RunId>,
    idempotency: HashMap<(DefinitionId, UserId, String), RunId>,
    history: HashMap<RunId, Vec<HistoryRecord>>,
    outbox: BTreeMap<u64, OutboxEntry>,
    pending: BTreeSet<u64>,
    next_seq: u64,
}

/// The in-memory store. Cheap to create; share it with `Arc` (the `Store` impl for `Arc<S>`
/// lives in workflow-core).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied commit: commits are
        // validated before the first mutation, so the data is consistent either way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn put_part(&mut self, p: PathPart) {
        let key = (p.tenant_id, p.id);
        if let Some(old) = self.parts.get(&key) {
            if old.parent_id != p.parent_id {
                if let Some(op) = old.parent_id {
                    if let Some(set) = self.children.get_mut(&(p.tenant_id, op)) {
                        set.remove(&p.id);
                    }
                }
            }
        }
        if let Some(parent) = p.parent_id {
            self.children
                .entry((p.tenant_id, parent))
                .or_default()
                .insert(p.id);
        }
        self.parts.insert(key, p);
    }

    fn remove_part(&mut self, tenant: TenantId, id: PathPartId) {
        if let Some(old) = self.parts.remove(&(tenant, id)) {
            if let Some(parent) = old.parent_id {
                if let Some(set) = self.children.get_mut(&(tenant, parent)) {
                    set.remove(&id);
                }
            }
        }
        self.children.remove(&(tenant, id));
    }

    fn apply(&mut self, w: &CatalogWrite) {
        match w {
            CatalogWrite::Tenant(t) => {
                self.tenants.insert(t.id, t.clone());
            }
            CatalogWrite::User(u) => {
                self.users.insert((u.tenant_id, u.id), u.clone());
            }
            CatalogWrite::Definition(d) => {
                self.definitions.insert((d.tenant_id, d.id), (**d).clone());
            }
            CatalogWrite::PutPart(p) => self.put_part((**p).clone()),
            CatalogWrite::RemovePart(t, id) => self.remove_part(*t, *id),
            CatalogWrite::RemoveDefinition(t, id) => {
                self.definitions.remove(&(*t, *id));
            }
            CatalogWrite::ActivateVersion {
                tenant,
                document,
                version,
            } => {
                let siblings = self.children.get(&(*tenant, *document)).cloned();
                for id in siblings.into_iter().flatten() {
                    if let Some(info) = self
                        .parts
                        .get_mut(&(*tenant, id))
                        .and_then(|p| p.version.as_mut())
                    {
                        info.active = id == *version;
                    }
                }
            }
        }
    }

    /// [`RunQuery::matches`] with the path of the run's definition.
    fn matches(&self, q: &RunQuery, r: &Run) -> bool {
        let def = self.definitions.get(&(r.tenant_id, r.definition_id));
        q.matches(r, def.map(|d| d.path.as_str()))
    }

    fn children_of(&self, tenant: TenantId, parent: PathPartId) -> Vec<PathPart> {
        let mut out: Vec<PathPart> = self
            .children
            .get(&(tenant, parent))
            .into_iter()
            .flatten()
            .filter_map(|id| self.parts.get(&(tenant, *id)).cloned())
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

/// [`Commit::validate`]'s questions, answered from the data under the store's lock.
struct Probe<'a>(&'a Inner);

impl CommitProbe for Probe<'_> {
    fn current(&mut self, run: RunId) -> StoreResult<Option<(u64, TenantId)>> {
        Ok(self.0.runs.get(&run).map(|r| (r.version, r.tenant_id)))
    }
    fn ever_used(&mut self, run: RunId) -> StoreResult<bool> {
        Ok(self.0.ever.contains(&run))
    }
    fn name_taken(
        &mut self,
        definition: DefinitionId,
        name: &str,
        except: RunId,
    ) -> StoreResult<bool> {
        Ok(self
            .0
            .names
            .get(&(definition, name.to_owned()))
            .is_some_and(|o| *o != except))
    }
    fn idempotency_taken(
        &mut self,
        definition: DefinitionId,
        user: UserId,
        key: &str,
        except: RunId,
    ) -> StoreResult<bool> {
        Ok(self
            .0
            .idempotency
            .get(&(definition, user, key.to_owned()))
            .is_some_and(|o| *o != except))
    }
}

impl Store for MemoryStore {
    fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.lock().tenants.get(&id).cloned())
    }

    fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&(tenant, id)).cloned())
    }

    fn user_by_api_key_digest(&self, digest: &ApiKeyDigest) -> StoreResult<Option<User>> {
        // Users hold only digests (SEC-3), like every adapter, so the conformance suite sees one
        // behaviour.
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.api_key.as_ref() == Some(digest))
            .cloned())
    }

    fn path_part(&self, tenant: TenantId, id: PathPartId) -> StoreResult<Option<PathPart>> {
        Ok(self.lock().parts.get(&(tenant, id)).cloned())
    }

    fn children(&self, tenant: TenantId, parent: PathPartId) -> StoreResult<Vec<PathPart>> {
        Ok(self.lock().children_of(tenant, parent))
    }

    fn descendants(&self, tenant: TenantId, root: PathPartId) -> StoreResult<Vec<PathPart>> {
        let g = self.lock();
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            for c in g.children_of(tenant, id) {
                stack.push(c.id);
                out.push(c);
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn definition(&self, tenant: TenantId, id: DefinitionId) -> StoreResult<Option<Definition>> {
        Ok(self.lock().definitions.get(&(tenant, id)).cloned())
    }

    fn definitions(&self, tenant: TenantId) -> StoreResult<Vec<Definition>> {
        Ok(self
            .lock()
            .definitions
            .range((tenant, DefinitionId(workflow_core::uuid::Uuid::nil()))..)
            .take_while(|((t, _), _)| *t == tenant)
            .map(|(_, d)| d.clone())
            .collect())
    }

    fn scheduled_definitions(&self) -> StoreResult<Vec<Definition>> {
        Ok(self
            .lock()
            .definitions
            .values()
            .filter(|d| d.schedule.is_some())
            .cloned()
            .collect())
    }

    fn apply_catalog(&self, writes: &[CatalogWrite]) -> StoreResult<()> {
        let mut g = self.lock();
        for w in writes {
            g.apply(w);
        }
        Ok(())
    }

    fn load_run(&self, tenant: TenantId, id: RunId) -> StoreResult<Option<Run>> {
        Ok(self
            .lock()
            .runs
            .get(&id)
            .filter(|r| r.tenant_id == tenant)
            .cloned())
    }

    fn run_id_by_name(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        name: &str,
    ) -> StoreResult<Option<RunId>> {
        let g = self.lock();
        Ok(g.names
            .get(&(definition, name.to_owned()))
            .copied()
            .filter(|id| g.runs.get(id).is_some_and(|r| r.tenant_id == tenant)))
    }

    fn run_by_idempotency_key(
        &self,
        tenant: TenantId,
        definition: DefinitionId,
        user: UserId,
        key: &str,
    ) -> StoreResult<Option<Run>> {
        let g = self.lock();
        Ok(g.idempotency
            .get(&(definition, user, key.to_owned()))
            .and_then(|id| g.runs.get(id))
            .filter(|r| r.tenant_id == tenant)
            .cloned())
    }

    fn list_runs(&self, q: &RunQuery) -> StoreResult<Page<Run>> {
        let g = self.lock();
        let mut hits: Vec<&Run> = g.runs.values().filter(|r| g.matches(q, r)).collect();
        hits.sort_by(|a, b| q.compare(a, b));
        let total = hits.len() as u64;
        let items = hits
            .into_iter()
            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
            .take(q.limit as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            total,
            limit: q.limit,
            offset: q.offset,
        })
    }

    fn run_stats(&self, q: &RunQuery, durations: bool) -> StoreResult<RunStats> {
        let g = self.lock();
        let hits: Vec<&Run> = g.runs.values().filter(|r| g.matches(q, r)).collect();
        let mut counts: BTreeMap<ExecutionState, u64> = BTreeMap::new();
        for r in &hits {
            *counts.entry(r.execution_state).or_default() += 1;
        }
        let triggerers: std::collections::BTreeSet<UserId> =
            hits.iter().map(|r| r.triggered_by).collect();
        let mut durations: Vec<i64> = hits
            .iter()
            .filter(|r| durations && r.execution_state.is_terminal())
            .filter_map(|r| (r.completed_at? - r.started_at?).num_nanoseconds())
            .collect();
        durations.sort_unstable();
        let pick = |p| {
            nearest_rank(p, durations.len() as u64)
                .and_then(|i| durations.get(usize::try_from(i).ok()?))
                .map(|n| *n as f64 / 1e9)
        };
        Ok(RunStats {
            counts: counts.into_iter().collect(),
            distinct_triggerers: triggerers.len() as u64,
            duration_p50_seconds: pick(50),
            duration_p95_seconds: pick(95),
            oldest_completed_at: hits.iter().filter_map(|r| r.completed_at).min(),
        })
    }

    fn count_runs_by_state(&self) -> StoreResult<Vec<(ExecutionState, u64)>> {
        let g = self.lock();
        let mut counts: BTreeMap<ExecutionState, u64> = BTreeMap::new();
        for r in g.runs.values() {
            *counts.entry(r.execution_state).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    fn expired_runs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<(TenantId, RunId)>> {
        let g = self.lock();
        let mut hits: Vec<(Timestamp, TenantId, RunId)> = g
            .runs
            .values()
            .filter(|r| r.execution_state == ExecutionState::InProgress)
            .filter_map(|r| {
                r.deadline_at
                    .filter(|d| *d < now)
                    .map(|d| (d, r.tenant_id, r.id))
            })
            .collect();
        hits.sort();
        Ok(hits
            .into_iter()
            .take(limit as usize)
            .map(|(_, t, r)| (t, r))
            .collect())
    }

    fn commit(&self, c: Commit) -> StoreResult<CommitOutcome> {
        let mut g = self.lock();
        // Validate everything before the first mutation (under the one lock).
        if let Err(conflict) = c.validate(&mut Probe(&g))? {
            return Ok(CommitOutcome::Conflict(conflict));
        }
        // Apply.
        if let Some(old) = g.runs.remove(&c.run_id) {
            g.names.remove(&(old.definition_id, old.name.clone()));
            if let Some(k) = old.idempotency_key {
                g.idempotency
                    .remove(&(old.definition_id, old.triggered_by, k));
            }
        }
        if let RunWrite::Put(run) = c.write {
            g.names
                .insert((run.definition_id, run.name.clone()), run.id);
            if let Some(k) = &run.idempotency_key {
                g.idempotency
                    .insert((run.definition_id, run.triggered_by, k.clone()), run.id);
            }
            g.ever.insert(run.id);
            g.runs.insert(run.id, *run);
        }
        for w in &c.catalog {
            g.apply(w);
        }
        g.history.entry(c.run_id).or_default().push(c.history);
        for message in c.outbox {
            g.next_seq += 1;
            let seq = g.next_seq;
            g.outbox.insert(seq, OutboxEntry::queued(seq, message));
            g.pending.insert(seq);
        }
        Ok(CommitOutcome::Committed)
    }

    fn history(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<HistoryRecord>> {
        Ok(self
            .lock()
            .history
            .get(&run)
            .map(|h| {
                h.iter()
                    .filter(|r| r.tenant_id == tenant)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    fn outbox_pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let g = self.lock();
        Ok(g.pending
            .iter()
            .take(limit as usize)
            .filter_map(|s| g.outbox.get(s).cloned())
            .collect())
    }

    fn outbox_due(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let g = self.lock();
        let mut blocked = HashSet::default();
        let mut out = Vec::new();
        for e in g.pending.iter().filter_map(|s| g.outbox.get(s)) {
            if out.len() >= limit as usize {
                break;
            }
            // A run's first pending message blocks its later ones, due or not.
            if blocked.insert(e.message.key().run_id) && e.is_due(now) {
                out.push(e.clone());
            }
        }
        Ok(out)
    }

    fn outbox_record_attempt(
        &self,
        seq: u64,
        at: Timestamp,
        outcome: &Delivery,
    ) -> StoreResult<()> {
        let mut g = self.lock();
        if let Some(e) = g.outbox.get_mut(&seq) {
            *e = e.after(at, outcome);
            if !e.is_pending() {
                g.pending.remove(&seq);
            }
        }
        Ok(())
    }

    fn outbox_for_run(&self, tenant: TenantId, run: RunId) -> StoreResult<Vec<OutboxEntry>> {
        Ok(self
            .lock()
            .outbox
            .values()
            .filter(|e| e.message.key().run_id == run && message_tenant(&e.message) == tenant)
            .cloned()
            .collect())
    }
}

fn message_tenant(m: &workflow_core::OutboxMessage) -> TenantId {
    match m {
        workflow_core::OutboxMessage::Dispatch(d) => d.tenant_id,
        workflow_core::OutboxMessage::Cancel(c) => c.tenant_id,
    }
}

#[cfg(test)]
mod conformance {
    workflow_conformance::conformance_tests!(crate::MemoryStore::new());
}
