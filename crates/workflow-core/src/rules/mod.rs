//! One pure decision per operation of SPEC section 3. A decision reads only its arguments (the
//! run, catalog facts, the actor, `now`, fresh ids) and returns a [`Decision`]: what to write
//! (if anything) and what to answer, or a typed refusal. The [`crate::Engine`] does the reading
//! and the writing.
//!
//! Every `decide_*` has the same shape, `Result<Decision<A>>`: `Err` is a refusal (nothing is
//! written, ERR-2), `change: None` an answer without a write (an idempotent replay, a read), and
//! `change: Some(t)` a [`Transition`] to commit, after which `answer` is returned. Where the
//! engine must read catalog facts only for some calls, a `*_needs` function (also pure) says
//! which, after the refusals that need no facts (permission before state, VIS-2).
//!
//! One module per operation: [`create`](self#create) (and clone), update, start, stop,
//! callback, retry, approval, delete, uploads and outputs, reap, and the catalog
//! administration calls.

use crate::error::{Error, Result};
use crate::ids::{PathPartId, RunId};
use crate::model::{
    Actor, ApprovalRecord, ApprovalState, CallbackOutcome, CallbackStatus, Cancel, Definition,
    Dispatch, DispatchKey, Event, ExecutionState, FailureKind, Grant, Ingestion, OutboxEntry,
    OutboxMessage, PathPart, PathPartKind, Role, Run, RunFolders, Timestamp, User, VersionInfo,
};
use crate::policy::{
    self, child_path, require_manage, require_read, run_access, validate_len, validate_name,
    RunAccess, MAX_ERROR_LEN, MAX_INPUT_SCOPE, MAX_REASON_LEN, MAX_USER_MESSAGE_LEN,
};
use crate::snapshot::{build_snapshot, Resolved, StartFacts};
use crate::store::{CatalogWrite, RunWrite};
use uuid::Uuid;

mod approval;
mod callback;
mod catalog;
mod clone;
mod create;
mod delete;
mod read;
mod reap;
mod relay;
mod retry;
mod start;
mod stop;
mod update;
mod uploads;

#[cfg(test)]
mod tests;

pub use approval::{approve_needs_outputs, decide_approve, Approve};
pub use callback::{decide_callback, Callback};
pub use catalog::{
    decide_definition, decide_part, decide_user, decide_version, instantiate_command,
    validate_schedule, DefinitionFacts, NewDefinition, PutDefinition, ScheduleFields,
    MAX_DESCRIPTION_LEN,
};
pub use clone::{decide_clone, CloneRun};
pub use create::{
    check_can_create, decide_create, validate_create, validate_scope, CreateFacts, CreateRun,
    NewUpload,
};
pub use delete::{check_delete, decide_delete, decide_delete_with_definition};
pub use read::{decide_get, decide_thread_message};
pub use reap::decide_reap;
pub use relay::{decide_dispatch_failed, RelayPolicy, DISPATCH_FAILED};
pub use retry::{decide_resume, decide_retry};
pub use start::{decide_start, start_needs_facts, StartRun};
pub use stop::decide_stop;
pub use update::{decide_update, update_needs, UpdateFacts, UpdateNeeds, UpdateRun};
pub use uploads::{
    check_output_attempt, decide_add_output, decide_add_upload, decide_ingestion,
    ingestion_wants_start, IngestionFacts, UploadStatus,
};

/// The error text of a stopped run (STOP-1). The run's [`Run::failure`] says
/// [`FailureKind::Stopped`]; match on that, not on this text.
pub const STOPPED_BY_USER: &str = "Stopped by user";
/// The error text of a reaped run (REAP-1); its kind is [`FailureKind::TimedOut`].
pub const TIMED_OUT: &str = "Timed out";

/// Who is calling, with what, and when.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The caller.
    pub actor: &'a Actor,
    /// The caller's path grants.
    pub grants: &'a [Grant],
    /// The time of the call.
    pub now: Timestamp,
    /// Added to a definition's deadline before reaping (REAP-1).
    pub grace: chrono::Duration,
}

impl Ctx<'_> {
    fn access(&self, run: &Run, def: &Definition) -> RunAccess {
        run_access(self.actor, self.grants, run, def)
    }
}

/// A decided state change of one run, ready to be committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new row (its version already incremented), or a deletion.
    pub write: RunWrite,
    /// What happened.
    pub event: Event,
    /// Why, for the history record.
    pub reason: Option<String>,
    /// Messages queued with it.
    pub outbox: Vec<OutboxMessage>,
    /// Changes to the run's folder.
    pub catalog: Vec<CatalogWrite>,
}

impl Transition {
    /// The new row, when the transition writes one (not a deletion).
    pub fn next(&self) -> Option<&Run> {
        match &self.write {
            RunWrite::Put(r) => Some(r),
            RunWrite::Delete => None,
        }
    }
}

/// The outcome of every `decide_*`: what to write, if anything, and what to answer once it is
/// written. `W` is a run [`Transition`], or the catalog writes of an administration call
/// ([`CatalogDecision`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<A = (), W = Transition> {
    /// `None`: nothing to write (an idempotent replay or a read).
    pub change: Option<Box<W>>,
    /// The answer to the caller.
    pub answer: A,
}

/// A decision of a catalog administration call: the catalog writes to apply atomically.
pub type CatalogDecision<A> = Decision<A, Vec<CatalogWrite>>;

impl<A, W> Decision<A, W> {
    /// Nothing to write; answer `answer`.
    pub fn unchanged(answer: A) -> Self {
        Decision {
            change: None,
            answer,
        }
    }

    /// Write `change`, then answer `answer`.
    pub fn write(change: W, answer: A) -> Self {
        Decision {
            change: Some(Box::new(change)),
            answer,
        }
    }
}

impl<W> Decision<(), W> {
    /// Nothing to write, nothing to answer but the run as it stands.
    pub fn none() -> Self {
        Decision::unchanged(())
    }
}

fn write(run: Run, event: Event) -> Transition {
    Transition {
        write: RunWrite::Put(Box::new(run)),
        event,
        reason: None,
        outbox: Vec::new(),
        catalog: Vec::new(),
    }
}

/// The next version of `run`: version + 1, `updated_at` = now.
fn bump(run: &Run, now: Timestamp) -> Run {
    let mut next = run.clone();
    next.version += 1;
    next.updated_at = now;
    next
}

fn conflict(run: &Run, reason: impl Into<String>) -> Error {
    Error::conflict(Some(run.execution_state), reason)
}

/// The next version of `run`, FAILED now with `error` of kind `kind`.
fn fail(run: &Run, now: Timestamp, kind: FailureKind, error: &str) -> Run {
    let mut next = bump(run, now);
    next.execution_state = ExecutionState::Failed;
    next.completed_at = Some(now);
    next.deadline_at = None;
    next.error = Some(error.to_owned());
    next.failure = Some(kind);
    next
}

/// Fresh ids a decision may need; the engine draws them before deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreshIds {
    /// For a new run (and its folder).
    pub run: Uuid,
    /// For `inputs/`.
    pub inputs: Uuid,
    /// For `outputs/`.
    pub outputs: Uuid,
    /// For `discussions/`.
    pub discussions: Uuid,
    /// For a thread, a document or a version.
    pub extra: [Uuid; 2],
}

impl FreshIds {
    /// Draw from a generator.
    pub fn draw(ids: &dyn crate::IdGen) -> Self {
        FreshIds {
            run: ids.new_id(),
            inputs: ids.new_id(),
            outputs: ids.new_id(),
            discussions: ids.new_id(),
            extra: [ids.new_id(), ids.new_id()],
        }
    }
}

fn dispatch_of(run: &Run) -> Result<OutboxMessage> {
    let snapshot = run
        .snapshot
        .clone()
        .ok_or_else(|| Error::Internal(format!("run {} dispatched without a snapshot", run.id)))?;
    Ok(OutboxMessage::Dispatch(Dispatch {
        key: DispatchKey {
            run_id: run.id,
            attempt: run.attempt,
        },
        tenant_id: run.tenant_id,
        definition_id: Some(run.definition_id),
        resume: false,
        triggered_by: run.triggered_by,
        run_thread_id: run.run_thread_id,
        snapshot,
        deadline_at: run.deadline_at,
    }))
}

fn cancel_of(run: &Run, reason: &str) -> OutboxMessage {
    OutboxMessage::Cancel(Cancel {
        key: DispatchKey {
            run_id: run.id,
            attempt: run.attempt,
        },
        tenant_id: run.tenant_id,
        reason: reason.to_owned(),
    })
}

/// The deadline of an attempt starting now (REAP-1).
fn deadline(ctx: &Ctx<'_>, snapshot: &crate::Snapshot) -> Timestamp {
    ctx.now + chrono::Duration::seconds(i64::from(snapshot.max_run_duration_seconds)) + ctx.grace
}
