//! Background duties: the outbox relay (CONC-5, DISP-4..6) and the reaper (REAP-1, REAP-2).
//!
//! The relay delivers each due message (see `Store::outbox_due`) to the [`Dispatcher`]: a run's
//! messages one at a time and in order, different runs' messages in parallel. A failed attempt
//! is recorded with its error and the time of the next try ([`RelayPolicy::after_failure`]:
//! backoff with jitter); a permanent refusal, or a message still failing after the policy's
//! tries and time, is dead-lettered, and a dead-lettered dispatch fails its attempt through an
//! ordinary transition recorded as the system's (DISP-5).
//!
//! [`Dispatcher`]: crate::Dispatcher
//! [`RelayPolicy::after_failure`]: crate::rules::RelayPolicy::after_failure

use super::Engine;
use crate::error::{Error, Result};
use crate::ids::RunId;
use crate::model::{ActorStamp, OutboxEntry, OutboxMessage};
use crate::rules;
use crate::store::{Delivery, DispatchError, OutboxLease, Store};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What one relay pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Messages the dispatcher accepted.
    pub delivered: u32,
    /// Failed attempts that will be retried after a backoff.
    pub failed: u32,
    /// Messages dead-lettered (DISP-5).
    pub dead: u32,
}

/// Told about every delivery attempt, for logs and metrics (DISP-7). Called from relay threads.
pub trait RelayObserver: Send + Sync {
    /// `entry` was delivered.
    fn delivered(&self, entry: &OutboxEntry) {
        let _ = entry;
    }
    /// An attempt at `entry` failed; `outcome` is a retry or a dead letter.
    fn failed(&self, entry: &OutboxEntry, error: &DispatchError, outcome: &Delivery) {
        let _ = (entry, error, outcome);
    }
}

/// The relay's in-process state: which runs have a delivery in flight, and the wake-up signal
/// commits send.
pub(super) struct RelayState {
    /// This relay's name in outbox leases (SCALE-2): one per engine.
    owner: uuid::Uuid,
    in_flight: Mutex<HashSet<RunId>>,
    generation: Mutex<u64>,
    signal: Condvar,
    pub(super) observer: Option<Arc<dyn RelayObserver>>,
}

impl Default for RelayState {
    fn default() -> Self {
        RelayState {
            owner: uuid::Uuid::new_v4(),
            in_flight: Mutex::default(),
            generation: Mutex::default(),
            signal: Condvar::new(),
            observer: None,
        }
    }
}

impl RelayState {
    /// New work is queued (a commit, or a worker that saw more than it took): wake one waiting
    /// relay worker. A worker that finds more wakes the next, so a commit that queues one
    /// message costs one claim, not one per worker.
    pub(super) fn wake(&self) {
        self.bump().notify_one();
    }

    /// Wake every waiting relay worker (a stopping host, so that each sees its stop flag).
    fn wake_all(&self) {
        self.bump().notify_all();
    }

    fn bump(&self) -> &Condvar {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g = g.wrapping_add(1);
        &self.signal
    }

    /// The wake-up count now: read it before claiming, then [`RelayState::wait_since`] it, so
    /// that a wake-up between an empty claim and the wait is not lost.
    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until woken after `seen` (at once if that already happened) or `timeout` passed.
    fn wait_since(&self, seen: u64, timeout: Duration) {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .signal
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// Releases a claimed run when the delivery ends, also on unwinding.
struct Claim<'a> {
    state: &'a RelayState,
    run: RunId,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.state
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.run);
    }
}

/// The result of one delivery attempt.
enum Attempted {
    Delivered,
    Failed,
    Dead,
}

impl<S: Store> Engine<S> {
    /// Claim the first due message whose run has no delivery in flight. `outbox_claim` returns
    /// one message per run (the first of its queue) and at most `relay_parallelism` runs are in
    /// flight here, so `relay_parallelism + 1` entries always include a claimable one if any is
    /// due: a claim reads (and decodes) a handful of rows, not the whole queue. On a shared
    /// store the entries come leased to this engine (SCALE-2); those not taken now stay
    /// this engine's until the lease ends, and its next claim offers them again.
    ///
    /// The flag says whether the claim saw another message it could have taken (a run not in
    /// flight): more work for another worker.
    fn claim(&self) -> Result<Option<(OutboxEntry, Claim<'_>, bool)>> {
        let in_flight_max = self.config.relay_parallelism.max(1) as u32;
        let limit = self.config.relay_batch.min(in_flight_max + 1).max(1);
        let now = self.clock.now();
        let lease = OutboxLease {
            owner: self.relay.owner,
            until: chrono::Duration::from_std(self.config.relay_lease)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        };
        // The in-flight lock is held across the read: a delivery ends (its run leaves the
        // set) only after its attempt was recorded, so a read made under the lock either sees
        // the run still in flight or the message already recorded, never a delivered message
        // whose run looks free (which would deliver it twice).
        let mut in_flight = self
            .relay
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let due = self.store.outbox_claim(now, limit, &lease)?;
        let mut due = due.into_iter();
        let taken = due
            .by_ref()
            .find(|e| in_flight.insert(e.message.key().run_id));
        Ok(taken.map(|entry| {
            let run = entry.message.key().run_id;
            let more = due.any(|e| {
                let other = e.message.key().run_id;
                other != run && !in_flight.contains(&other)
            });
            let claim = Claim {
                state: &self.relay,
                run,
            };
            (entry, claim, more)
        }))
    }

    /// A jitter fraction in [0, 1) from the id generator (deterministic under `SeqIds`).
    fn jitter(&self) -> f64 {
        (self.ids.new_id().as_u128() as u64 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Deliver one claimed entry and record what became of it.
    fn attempt(&self, entry: &OutboxEntry) -> Result<Attempted> {
        let result = match &entry.message {
            OutboxMessage::Dispatch(d) => self.dispatcher.dispatch(d),
            OutboxMessage::Cancel(c) => self.dispatcher.cancel(c),
        };
        let now = self.clock.now();
        let error = match result {
            Ok(()) => {
                self.store
                    .outbox_record_attempt(entry.seq, now, &Delivery::Delivered)?;
                if let Some(o) = &self.relay.observer {
                    o.delivered(entry);
                }
                return Ok(Attempted::Delivered);
            }
            Err(e) => e,
        };
        let outcome = self
            .config
            .relay
            .after_failure(entry, &error, now, self.jitter());
        if let (Delivery::Dead { error: why }, OutboxMessage::Dispatch(d)) =
            (&outcome, &entry.message)
        {
            // DISP-5: the attempt fails first; a crash before the dead mark only makes the
            // relay try (and dead-letter) the message again, and the run is left alone then.
            let failed = self.on_run(
                d.tenant_id,
                d.key.run_id,
                ActorStamp::SYSTEM,
                |run, _, now| rules::decide_dispatch_failed(now, run, d.key.attempt, why),
            );
            match failed {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.store.outbox_record_attempt(entry.seq, now, &outcome)?;
        if let Some(o) = &self.relay.observer {
            o.failed(entry, &error, &outcome);
        }
        Ok(match outcome {
            Delivery::Dead { .. } => Attempted::Dead,
            _ => Attempted::Failed,
        })
    }

    /// Claim and deliver one due message; when the claim saw more, wake another worker first
    /// (and say so: `true`). `Ok(None)`: nothing claimable now.
    fn relay_one(&self) -> Result<Option<(Attempted, bool)>> {
        let Some((entry, _claim, more)) = self.claim()? else {
            return Ok(None);
        };
        if more {
            self.relay.wake();
        }
        self.attempt(&entry).map(|a| Some((a, more)))
    }

    /// One relay pass: deliver every message due now, with `relay_parallelism` deliveries in
    /// flight, until none is left that is due and claimable (CONC-5: at least once). A failed
    /// message waits for its backoff (a later pass); its run's later messages wait behind it.
    pub fn relay_outbox(&self) -> Result<RelayReport> {
        let (delivered, failed, dead) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0));
        let first_error = Mutex::new(None);
        let tally = |attempted: Result<Attempted>| match attempted {
            Ok(a) => {
                let counter = match a {
                    Attempted::Delivered => &delivered,
                    Attempted::Failed => &failed,
                    Attempted::Dead => &dead,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
                false
            }
        };
        let worker = || loop {
            match self.relay_one() {
                Ok(Some((a, _))) => tally(Ok(a)),
                Ok(None) => return,
                Err(e) => {
                    tally(Err(e));
                    return;
                }
            };
        };
        // Claim on this thread first. Only when that claim saw more than it took, add the other
        // workers, and before delivering, so that a hanging first delivery holds up only its
        // own run (a pass after one commit usually has one message: no empty claims then).
        let Some((entry, claim, more)) = self.claim()? else {
            return Ok(RelayReport::default());
        };
        std::thread::scope(|s| {
            if more {
                for _ in 1..self.config.relay_parallelism.max(1) {
                    s.spawn(worker);
                }
            }
            let ok = tally(self.attempt(&entry));
            drop(claim);
            if ok {
                worker();
            }
        });
        let report = RelayReport {
            delivered: delivered.into_inner(),
            failed: failed.into_inner(),
            dead: dead.into_inner(),
        };
        match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) if report == RelayReport::default() => Err(e),
            _ => Ok(report),
        }
    }

    /// A long-running relay worker for a host's background thread (DISP-6): it delivers due
    /// messages as they come, sleeps until a commit of this engine wakes it or `sweep` passes
    /// (to pick up messages queued by other processes, left by a crash, or past their backoff),
    /// and returns when `stop` is set. Run several for parallel delivery; each run's messages
    /// still go one at a time, in order. Store errors are retried after `sweep`.
    pub fn run_relay_worker(&self, stop: &AtomicBool, sweep: Duration) {
        while !stop.load(Ordering::SeqCst) {
            let seen = self.relay.generation();
            match self.relay_one() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => self.relay.wait_since(seen, sweep),
            }
        }
    }

    /// Wake every relay worker now (e.g. to make a stopping host's workers see `stop`).
    pub fn wake_relay(&self) {
        self.relay.wake_all();
    }

    /// Fail every IN_PROGRESS run past its deadline (REAP-1, REAP-2). Returns the runs this call
    /// failed (a run a racing stop or callback finished first is not among them).
    ///
    /// A store failure on one run does not stop the sweep: that run stays expired for the next
    /// sweep. The call answers `Err` only when it reaped nothing, so that an `Err` still means
    /// nothing was written (ERR-2) and an `Ok` names every run it failed.
    pub fn reap_expired(&self) -> Result<Vec<RunId>> {
        let now = self.clock.now();
        let mut reaped = Vec::new();
        let mut failure = None;
        for (tenant, id) in self.store.expired_runs(now, 1000)? {
            let outcome = self.on_run(tenant, id, ActorStamp::SYSTEM, |run, _, now| {
                rules::decide_reap(now, run)
            });
            match outcome {
                Ok((_, true)) => reaped.push(id),
                Ok((_, false)) | Err(Error::NotFound { .. }) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) if reaped.is_empty() => Err(e),
            _ => Ok(reaped),
        }
    }
}
