//! Reading what happened to a run, and hearing about it as it happens: the readable history of
//! a run (HIST-1) and the post-commit observers a host uses to wake whoever waits for a run's
//! next version (WATCH-1). The engine stays synchronous and runtime-free: an observer is a plain
//! callback, and the host decides how it wakes its waiters (the HTTP crate uses tokio).

use super::Engine;
use crate::error::Result;
use crate::ids::{RunId, TenantId};
use crate::model::{Actor, HistoryRecord};
use crate::rules;
use crate::store::Store;
use std::sync::{Arc, RwLock};

/// Called after every successful commit of a run's transition (WATCH-1), with the run's tenant,
/// its id and its version after the commit (a deletion's too). It runs on the committing
/// thread, before the commit's outbox is relayed, so it must be quick and must not block: wake
/// someone, do not work.
pub type CommitObserver = Arc<dyn Fn(TenantId, RunId, u64) + Send + Sync>;

/// The observers of an engine; empty unless a host adds one.
#[derive(Default)]
pub(super) struct CommitObservers(RwLock<Vec<CommitObserver>>);

impl CommitObservers {
    fn add(&self, observer: CommitObserver) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(observer);
    }

    /// Tell every observer that `run` now stands at `version`.
    pub(super) fn committed(&self, tenant: TenantId, run: RunId, version: u64) {
        let observers = self.0.read().unwrap_or_else(|p| p.into_inner());
        for o in observers.iter() {
            o(tenant, run, version);
        }
    }
}

impl<S: Store> Engine<S> {
    /// Also tell `observer` about every committed transition (WATCH-1). See [`CommitObserver`].
    pub fn with_commit_observer(self, observer: CommitObserver) -> Self {
        self.add_commit_observer(observer);
        self
    }

    /// [`Engine::with_commit_observer`] on an engine already shared (a router mounted over an
    /// `Arc<Engine>` registers its waiters' registry this way). Observers are never removed: one
    /// that outlives what it wakes should hold a `Weak` reference and do nothing once it is gone.
    pub fn add_commit_observer(&self, observer: CommitObserver) {
        self.commit_observers.add(observer);
    }

    /// The history records of a run `actor` can read (HIST-1: the readers of GET-1, VIS-1), in
    /// `seq` order. A run the actor cannot read, or that no longer exists, is `not_found`; the
    /// history of a deleted run stays available to the host through [`Engine::history`].
    pub fn run_history(&self, actor: &Actor, run_id: RunId) -> Result<Vec<HistoryRecord>> {
        self.read_as(actor, run_id, rules::decide_get)?;
        let mut records = self.store.history(actor.tenant_id, run_id)?;
        records.sort_by_key(|r| r.seq);
        Ok(records)
    }
}
