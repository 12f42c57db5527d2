//! The load → decide → commit loop, and the commit: one version-checked atomic unit per
//! transition (row, history record, outbox, catalog), retried on conflict a bounded number of
//! times.

use super::Engine;
use crate::error::{Error, Result, StoreError};
use crate::ids::{RunId, TenantId};
use crate::model::{Actor, ActorStamp, Definition, Grant, HistoryRecord, Run, Timestamp};
use crate::rules::{self, CreateFacts, CreateRun, Ctx, Decision, FreshIds, Transition};
use crate::store::{Commit, CommitOutcome, RunWrite, Store};
use uuid::Uuid;

impl<S: Store> Engine<S> {
    /// Commit `t`, decided on `before` (`None`: a new run). `Ok(false)`: someone committed first.
    fn commit(
        &self,
        before: Option<&Run>,
        run_id: RunId,
        tenant: TenantId,
        t: Transition,
        stamp: ActorStamp,
        now: Timestamp,
    ) -> Result<bool> {
        let expected = before.map_or(0, |r| r.version);
        let (to, attempt) = match &t.write {
            RunWrite::Put(r) => (Some(r.execution_state), r.attempt),
            RunWrite::Delete => (None, before.map_or(0, |r| r.attempt)),
        };
        let queued = !t.outbox.is_empty();
        let keys_unchanged = match (before, &t.write) {
            (Some(b), RunWrite::Put(after)) => Commit::keys_unchanged(b, after),
            _ => false,
        };
        let commit = Commit {
            tenant_id: tenant,
            run_id,
            expected_version: expected,
            history: HistoryRecord {
                run_id,
                tenant_id: tenant,
                seq: expected + 1,
                from: before.map(|r| r.execution_state),
                to,
                event: t.event,
                actor: stamp,
                at: now,
                attempt,
                reason: t.reason,
            },
            write: t.write,
            outbox: t.outbox,
            catalog: t.catalog,
            keys_unchanged,
        };
        match self.store.commit(commit)? {
            CommitOutcome::Committed => {
                // WATCH-1: wake waiters before the (possibly slow) inline relay below.
                self.commit_observers
                    .committed(tenant, run_id, expected + 1);
                if queued {
                    // DISP-6: wake the background relay at once.
                    self.relay.wake();
                    if self.config.relay_after_commit {
                        // Best effort: a failure leaves the messages queued for the next relay.
                        let _ = self.relay_outbox();
                    }
                }
                Ok(true)
            }
            CommitOutcome::Conflict(_) => Ok(false),
        }
    }

    pub(super) fn contention() -> Error {
        Error::Store(StoreError::unavailable(
            "too many concurrent changes to this run; retry",
        ))
    }

    /// The load → decide → commit loop on one existing run. The result is the run as it stands
    /// afterwards (`None` when deleted) and the answer of the decision that took effect.
    pub(super) fn on_run<T>(
        &self,
        tenant: TenantId,
        run_id: RunId,
        stamp: ActorStamp,
        mut decide: impl FnMut(&Run, &Definition, Timestamp) -> Result<Decision<T>>,
    ) -> Result<(Option<Run>, T)> {
        for _ in 0..self.config.max_conflict_retries {
            let (run, def) = self.run_and_definition(tenant, run_id)?;
            let now = self.clock.now();
            let Decision { change, answer } = decide(&run, &def, now)?;
            let Some(t) = change else {
                return Ok((Some(run), answer));
            };
            let next = t.next().cloned();
            if self.commit(Some(&run), run_id, tenant, *t, stamp, now)? {
                return Ok((next, answer));
            }
        }
        Err(Self::contention())
    }

    /// [`Engine::on_run`] for a caller `actor`, with its grants in the rules' [`Ctx`].
    pub(super) fn on_run_as<T>(
        &self,
        actor: &Actor,
        run_id: RunId,
        mut decide: impl FnMut(&Ctx<'_>, &Run, &Definition) -> Result<Decision<T>>,
    ) -> Result<(Option<Run>, T)> {
        let grants = self.grants_of(actor)?;
        let grace = self.config.grace;
        self.on_run(actor.tenant_id, run_id, actor.into(), |run, def, now| {
            let ctx = Ctx {
                actor,
                grants: &grants,
                now,
                grace,
            };
            decide(&ctx, run, def)
        })
    }

    /// Loads a run and applies `rule`, a read-only decision, for `actor`.
    pub(super) fn read_as<T>(
        &self,
        actor: &Actor,
        run_id: RunId,
        rule: impl FnOnce(&Ctx<'_>, &Run, &Definition) -> Result<Decision<T>>,
    ) -> Result<(Run, Definition, Vec<Grant>, T)> {
        let grants = self.grants_of(actor)?;
        let (run, def) = self.run_and_definition(actor.tenant_id, run_id)?;
        let ctx = Ctx {
            actor,
            grants: &grants,
            now: self.clock.now(),
            grace: self.config.grace,
        };
        let d = rule(&ctx, &run, &def)?;
        if d.change.is_some() {
            return Err(Error::Internal("a read decided a write".into()));
        }
        Ok((run, def, grants, d.answer))
    }

    /// Create a run of `def` (CREATE-1..7) as `actor`, retried on a name or key race.
    pub(super) fn create_in(
        &self,
        actor: &Actor,
        grants: &[Grant],
        def: &Definition,
        cmd: &CreateRun,
    ) -> Result<Run> {
        let tenant = actor.tenant_id;
        let runs_folder = self
            .store
            .path_part(tenant, def.runs_folder_id)?
            .ok_or_else(|| {
                Error::Store(StoreError::corrupt(format!(
                    "runs folder of definition {} missing",
                    def.id
                )))
            })?;
        for _ in 0..self.config.max_conflict_retries {
            let now = self.clock.now();
            let ctx = Ctx {
                actor,
                grants,
                now,
                grace: self.config.grace,
            };
            rules::check_can_create(&ctx, def)?;
            let existing = match &cmd.idempotency_key {
                Some(k) => self
                    .store
                    .run_by_idempotency_key(tenant, def.id, actor.user_id, k)?,
                None => None,
            };
            let ids = FreshIds::draw(self.ids.as_ref());
            let name_taken = match (&existing, &cmd.name) {
                (None, Some(n)) => self.store.run_id_by_name(tenant, def.id, n)?.is_some(),
                _ => false,
            };
            // CREATE-6 under a race: a same-key create that committed between the key read and
            // the name read took the name; it is this create's answer, not a conflict.
            let existing = match (existing, name_taken, &cmd.idempotency_key) {
                (None, true, Some(k)) => {
                    self.store
                        .run_by_idempotency_key(tenant, def.id, actor.user_id, k)?
                }
                (existing, _, _) => existing,
            };
            let scope = if existing.is_none() {
                self.resolve_all(tenant, &cmd.input_scope)?
            } else {
                vec![]
            };
            let facts = CreateFacts {
                runs_folder: runs_folder.clone(),
                existing,
                name_taken,
                scope,
            };
            let upload_ids: Vec<(Uuid, Uuid)> = cmd
                .uploads
                .iter()
                .map(|_| (self.ids.new_id(), self.ids.new_id()))
                .collect();
            let Decision { change, answer } =
                rules::decide_create(&ctx, def, cmd, &facts, ids, &upload_ids)?;
            let Some(t) = change else {
                return Ok(answer);
            };
            if self.commit(None, answer.id, tenant, *t, actor.into(), now)? {
                return Ok(answer);
            }
        }
        Err(Self::contention())
    }
}

/// The run a non-deleting operation leaves.
pub(super) fn live(run: Option<Run>) -> Result<Run> {
    run.ok_or_else(|| Error::Internal("run vanished".into()))
}
