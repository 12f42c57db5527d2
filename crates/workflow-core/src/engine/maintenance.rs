//! Background duties: the outbox relay (CONC-5) and the reaper (REAP-1, REAP-2).

use super::Engine;
use crate::error::{Error, Result};
use crate::ids::RunId;
use crate::model::{ActorStamp, OutboxMessage};
use crate::rules;
use crate::store::Store;

/// What one relay pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Messages the dispatcher accepted.
    pub delivered: u32,
    /// Messages the dispatcher refused; they stay queued.
    pub failed: u32,
}

impl<S: Store> Engine<S> {
    /// Hand queued outbox messages to the dispatcher, at least once (CONC-5). A refused message
    /// stays queued (and later messages of the same run wait behind it); nothing is un-committed.
    pub fn relay_outbox(&self) -> Result<RelayReport> {
        let _one_relay_at_a_time = self.relay_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = RelayReport::default();
        let mut blocked = std::collections::HashSet::new();
        for entry in self.store.outbox_pending(self.config.relay_batch)? {
            let key = entry.message.key();
            if blocked.contains(&key.run_id) {
                continue;
            }
            let result = match &entry.message {
                OutboxMessage::Dispatch(d) => self.dispatcher.dispatch(d),
                OutboxMessage::Cancel(c) => self.dispatcher.cancel(c),
            };
            self.store
                .outbox_record_attempt(entry.seq, result.is_ok())?;
            if result.is_ok() {
                report.delivered += 1;
            } else {
                report.failed += 1;
                blocked.insert(key.run_id);
            }
        }
        Ok(report)
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
