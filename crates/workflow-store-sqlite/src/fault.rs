//! Fault injection for the crate's own tests (cargo feature `fault-injection`, off by default):
//! make the N-th storage call fail.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use workflow_core::{StoreError, StoreResult};

/// Makes the N-th storage call (every statement prepared for execution, every `BEGIN` and every
/// `COMMIT`) of one [`crate::SqliteStore`] fail with a `Backend` error, once or from then on.
/// Disarmed it costs one atomic load per call. Not part of the supported API.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct FaultPlan {
    fail_at: AtomicU64,
    calls: AtomicU64,
    persistent: AtomicBool,
    fail_commit: AtomicBool,
}

impl FaultPlan {
    /// Fail the `n`-th call from now (1-based); with `persistent`, also every later one.
    pub fn arm(&self, n: u64, persistent: bool) {
        self.calls.store(0, Ordering::SeqCst);
        self.persistent.store(persistent, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Fail the next `COMMIT` of a write transaction (a whole group-commit batch, or one
    /// commit), once, wherever it falls in the call count.
    pub fn fail_next_commit(&self) {
        self.fail_commit.store(true, Ordering::SeqCst);
    }

    /// Stop failing.
    pub fn disarm(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
        self.fail_commit.store(false, Ordering::SeqCst);
    }

    /// Calls counted since the last [`FaultPlan::arm`].
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn check_commit(&self) -> StoreResult<()> {
        if self.fail_commit.load(Ordering::Relaxed)
            && self.fail_commit.swap(false, Ordering::SeqCst)
        {
            return Err(StoreError::backend("injected fault at COMMIT"));
        }
        Ok(())
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        let at = self.fail_at.load(Ordering::Relaxed);
        if at == 0 {
            return Ok(());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == at || (n > at && self.persistent.load(Ordering::SeqCst)) {
            return Err(StoreError::backend(format!(
                "injected fault at storage call {n}"
            )));
        }
        Ok(())
    }
}
