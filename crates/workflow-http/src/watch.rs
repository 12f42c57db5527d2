//! WATCH-1: the long-poll GET of a run. A waiting request parks as a future on a
//! [`tokio::sync::watch`] channel of its run and holds no thread, no engine permit and no store
//! connection while it waits; the engine's post-commit observer
//! ([`workflow_core::Engine::add_commit_observer`]) publishes each committed version of a run
//! to its channel, which wakes every waiter of that run at once.
//!
//! A run has a channel only while someone waits on it: the first waiter makes it, the last one
//! to leave (answered, timed out, or gone because the client hung up) removes it, so a commit
//! of a run nobody watches costs one map look-up.
//!
//! Channels are keyed by run id alone: the waiter registers before it is authenticated (so no
//! commit between its read and its wait is missed), when its tenant is not known yet. Run ids
//! are random UUIDs, so two tenants never share one; if a fixture made them share one, a commit
//! of the other run would only end the wait early, with the caller's run as it is.
//!
//! A commit by another process (several servers on one database) does not reach this registry;
//! such a waiter answers when its time is up, with the run as it then is, as WATCH-1 allows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tokio::sync::watch;
use uuid::Uuid;
use workflow_core::{CommitObserver, RunId, TenantId};

/// The longest wait a request may ask for, in seconds (WATCH-1).
pub const MAX_WAIT_SECONDS: f64 = 60.0;

/// The registry of runs being waited on (WATCH-1): one `tokio::sync::watch` channel per run id
/// that has waiters. Cheap to clone (shared). Give one to
/// [`crate::router_with_watchers`] to look at it from outside (metrics, tests).
#[derive(Clone, Default)]
pub struct Watchers {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers")
            .field("runs", &self.runs())
            .field("waiters", &self.waiters())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    runs: Mutex<HashMap<Uuid, Channel>>,
}

struct Channel {
    /// The last committed version published for the run (0: none since the channel was made).
    tx: watch::Sender<u64>,
    /// Live [`Waiter`]s of the run.
    waiters: usize,
}

type Key = Uuid;

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Channel>> {
        // A panic while holding this lock cannot leave the map inconsistent (each change is one
        // insert, update or remove), so a poisoned lock is still usable.
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn committed(&self, key: Key, version: u64) {
        if let Some(c) = self.lock().get(&key) {
            c.tx.send_if_modified(|v| {
                let newer = version > *v;
                if newer {
                    *v = version;
                }
                newer
            });
        }
    }
}

impl Watchers {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many runs have waiters now.
    pub fn runs(&self) -> usize {
        self.inner.lock().len()
    }

    /// How many requests wait now, over all runs.
    pub fn waiters(&self) -> usize {
        self.inner.lock().values().map(|c| c.waiters).sum()
    }

    /// The engine observer that publishes commits to this registry. It holds the registry
    /// weakly: once every router using it is dropped, it does nothing.
    pub fn observer(&self) -> CommitObserver {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Arc::new(move |_: TenantId, run: RunId, version: u64| {
            if let Some(inner) = weak.upgrade() {
                inner.committed(run.0, version);
            }
        })
    }

    /// Register a waiter on `run`. Register BEFORE reading the run: a commit between the read
    /// and the wait is then seen by [`Waiter::wait_for_version_gt`].
    pub(crate) fn register(&self, run: RunId) -> Waiter {
        let key = run.0;
        let rx = {
            let mut runs = self.inner.lock();
            let c = runs.entry(key).or_insert_with(|| Channel {
                tx: watch::channel(0).0,
                waiters: 0,
            });
            c.waiters += 1;
            c.tx.subscribe()
        };
        Waiter {
            inner: self.inner.clone(),
            key,
            rx,
        }
    }
}

/// One waiting request's registration; leaving (drop) unregisters it, and the last waiter of a
/// run removes the run's channel.
pub(crate) struct Waiter {
    inner: Arc<Inner>,
    key: Key,
    rx: watch::Receiver<u64>,
}

impl Waiter {
    /// Wait until a version greater than `n` is committed, or `timeout` passes. True when woken
    /// by a commit.
    pub(crate) async fn wait_for_version_gt(
        &mut self,
        n: u64,
        timeout: std::time::Duration,
    ) -> bool {
        // The sender lives in the registry for as long as this waiter does, so `wait_for` only
        // ends with a version above `n` (or not at all, until the timeout).
        matches!(
            tokio::time::timeout(timeout, self.rx.wait_for(|v| *v > n)).await,
            Ok(Ok(_))
        )
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut runs = self.inner.lock();
        if let Some(c) = runs.get_mut(&self.key) {
            c.waiters = c.waiters.saturating_sub(1);
            if c.waiters == 0 {
                runs.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    fn ids() -> (TenantId, RunId) {
        (TenantId(Uuid::from_u128(1)), RunId(Uuid::from_u128(2)))
    }

    /// WATCH-1: a run has a channel only while someone waits; the last waiter removes it.
    #[test]
    fn watch_1_channels_live_only_while_waited_on() {
        let w = Watchers::new();
        let (t, r) = ids();
        let a = w.register(r);
        let b = w.register(r);
        assert_eq!((w.runs(), w.waiters()), (1, 2));
        drop(a);
        assert_eq!((w.runs(), w.waiters()), (1, 1));
        drop(b);
        assert_eq!((w.runs(), w.waiters()), (0, 0));
        // A commit of a run nobody waits on makes no channel.
        (w.observer())(t, r, 5);
        assert_eq!(w.runs(), 0);
    }

    /// WATCH-1: a commit published after registration wakes the waiter even when it came
    /// before the wait began; an older or equal version does not.
    #[tokio::test]
    async fn watch_1_a_commit_after_registration_is_not_missed() {
        let w = Watchers::new();
        let (t, r) = ids();
        let mut waiter = w.register(r);
        let notify = w.observer();
        notify(t, r, 3);
        assert!(
            !waiter
                .wait_for_version_gt(3, Duration::from_millis(20))
                .await
        );
        notify(t, r, 4);
        assert!(waiter.wait_for_version_gt(3, Duration::from_secs(5)).await);
        // Another run's commit does not wake it.
        notify(t, RunId(Uuid::from_u128(9)), 10);
        assert!(
            !waiter
                .wait_for_version_gt(4, Duration::from_millis(20))
                .await
        );
    }
}
