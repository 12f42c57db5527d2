//! One pure decision per operation of SPEC section 3. A decision reads only its arguments (the
//! run, catalog facts, the actor, `now`, fresh ids) and returns what to write, or a typed
//! refusal. The [`crate::Engine`] does the reading and the writing.

use crate::error::{Error, Result};
use crate::ids::{PathPartId, RunId};
use crate::model::{
    Actor, ApprovalRecord, ApprovalState, CallbackOutcome, CallbackStatus, Cancel, Definition,
    Dispatch, DispatchKey, Event, ExecutionState, Grant, Ingestion, OutboxMessage, PathPart,
    PathPartKind, Run, RunFolders, Timestamp, VersionInfo,
};
use crate::policy::{
    self, child_path, require_manage, require_read, run_access, validate_len, validate_name,
    RunAccess, MAX_ERROR_LEN, MAX_INPUT_SCOPE, MAX_REASON_LEN, MAX_USER_MESSAGE_LEN,
};
use crate::snapshot::{build_snapshot, is_referencable, Resolved, StartFacts};
use crate::store::{CatalogWrite, RunWrite};
use uuid::Uuid;

/// The error text of a stopped run (STOP-1).
pub const STOPPED_BY_USER: &str = "Stopped by user";
/// The error text of a reaped run (REAP-1).
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

/// A decided state change, ready to be committed.
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

/// The outcome of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to write; answer with the run as it stands (idempotent replays).
    Unchanged,
    /// Write this.
    Write(Box<Transition>),
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

// ------------------------------------------------------------------------------------------ create

/// A new upload of a document into a run's `inputs/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUpload {
    /// The document's name.
    pub name: String,
    /// Its ingestion status now.
    pub ingestion: Ingestion,
}

/// Input of Create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateRun {
    /// Display name; defaults to the run id (CREATE-3).
    pub name: Option<String>,
    /// Knowledge-base references (CREATE-5).
    pub input_scope: Vec<PathPartId>,
    /// CREATE-6.
    pub idempotency_key: Option<String>,
    /// CREATE-7.
    pub auto_start: bool,
    /// CREATE-7: ≤ 4000 characters.
    pub auto_start_user_message: Option<String>,
    /// Skills on top of the definition's.
    pub selected_skill_ids: Vec<Uuid>,
    /// Uploads into `inputs/` (the run is PENDING while any is unsettled).
    pub uploads: Vec<NewUpload>,
}

/// Checks an input scope (UPDATE-5, CREATE-5): kinds, existence, readability; duplicates collapse,
/// first position wins.
pub fn validate_scope(ctx: &Ctx<'_>, scope: &[Resolved]) -> Result<Vec<PathPartId>> {
    if scope.len() > MAX_INPUT_SCOPE {
        return Err(Error::invalid(
            "input_scope",
            format!("at most {MAX_INPUT_SCOPE} ids"),
        ));
    }
    let mut out: Vec<PathPartId> = Vec::with_capacity(scope.len());
    for r in scope {
        let Some(part) = &r.part else {
            return Err(Error::not_found("path part", r.id));
        };
        if !is_referencable(part.kind) {
            return Err(Error::invalid(
                "input_scope",
                format!("{} is a {}, which cannot be an input", r.id, part.kind),
            ));
        }
        if !policy::can_read_path(ctx.actor, ctx.grants, part.tenant_id, &part.path) {
            return Err(Error::forbidden(format!(
                "path part {} is not readable",
                r.id
            )));
        }
        if !out.contains(&r.id) {
            out.push(r.id);
        }
    }
    Ok(out)
}

/// Validates the fields of a create (CREATE-4, CREATE-7) before anything is read.
pub fn validate_create(cmd: &CreateRun) -> Result<()> {
    if let Some(name) = &cmd.name {
        validate_name("name", name)?;
    }
    validate_len(
        "user_message",
        cmd.auto_start_user_message.as_deref(),
        MAX_USER_MESSAGE_LEN,
    )?;
    if cmd.input_scope.len() > MAX_INPUT_SCOPE {
        return Err(Error::invalid(
            "input_scope",
            format!("at most {MAX_INPUT_SCOPE} ids"),
        ));
    }
    if let Some(k) = &cmd.idempotency_key {
        validate_len("idempotency_key", Some(k), 255)?;
        if k.is_empty() {
            return Err(Error::invalid("idempotency_key", "must not be empty"));
        }
    }
    for u in &cmd.uploads {
        validate_name("upload name", &u.name)?;
    }
    Ok(())
}

/// CREATE-1, CREATE-2: the actor can read the definition and it can have runs.
pub fn check_can_create(ctx: &Ctx<'_>, def: &Definition) -> Result<()> {
    if !policy::can_read_path(ctx.actor, ctx.grants, def.tenant_id, &def.path) {
        return Err(Error::not_found("workflow definition", def.id));
    }
    if !def.is_active {
        return Err(Error::conflict(None, "the workflow definition is inactive"));
    }
    if def.is_template {
        return Err(Error::conflict(None, "a template cannot have runs"));
    }
    Ok(())
}

/// The state a draft run should be in given its uploads' ingestion (SYNC-1..3), and the error
/// to store when it fails. `None` keeps the current state.
fn settle(statuses: &[(String, Ingestion)], auto_start: bool) -> (ExecutionState, Option<String>) {
    if statuses.iter().any(|(_, s)| !s.is_settled()) {
        return (ExecutionState::Pending, None);
    }
    match statuses.iter().find(|(_, s)| *s == Ingestion::Failed) {
        Some((name, _)) if auto_start => (
            ExecutionState::Failed,
            Some(format!("Upload {name:?} failed to ingest")),
        ),
        _ => (ExecutionState::NotStarted, None),
    }
}

fn new_upload_parts(
    tenant: crate::TenantId,
    inputs: &PathPart,
    upload: &NewUpload,
    doc_id: Uuid,
    version_id: Uuid,
    now: Timestamp,
) -> (PathPart, PathPart) {
    let doc = PathPart::new(
        doc_id.into(),
        tenant,
        PathPartKind::Document,
        &upload.name,
        Some(inputs),
        now,
    );
    let mut version = PathPart::new(
        version_id.into(),
        tenant,
        PathPartKind::DocumentVersion,
        &version_id.to_string(),
        Some(&doc),
        now,
    );
    version.version = Some(VersionInfo {
        ingestion: upload.ingestion,
        active: true,
    });
    (doc, version)
}

/// Facts Create needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateFacts {
    /// The definition's `runs/` folder.
    pub runs_folder: PathPart,
    /// The run with the same creator and idempotency key, if any (CREATE-6).
    pub existing: Option<Run>,
    /// Whether the name is taken (CREATE-4).
    pub name_taken: bool,
    /// The input scope, resolved.
    pub scope: Vec<Resolved>,
}

/// The outcome of Create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// CREATE-6: the run created the first time.
    Existing(Box<Run>),
    /// A new run to commit.
    New(Box<Transition>),
}

/// Create (CREATE-1..7). Uploads need ids beyond `ids`: two per upload in `upload_ids`.
pub fn decide_create(
    ctx: &Ctx<'_>,
    def: &Definition,
    cmd: &CreateRun,
    facts: &CreateFacts,
    ids: FreshIds,
    upload_ids: &[(Uuid, Uuid)],
) -> Result<Created> {
    validate_create(cmd)?;
    check_can_create(ctx, def)?;
    if let Some(existing) = &facts.existing {
        return Ok(Created::Existing(Box::new(existing.clone())));
    }
    let input_scope = validate_scope(ctx, &facts.scope)?;
    if facts.name_taken {
        return Err(Error::conflict(
            None,
            "a run of this definition already has that name",
        ));
    }
    if upload_ids.len() < cmd.uploads.len() {
        return Err(Error::Internal("not enough ids for uploads".into()));
    }
    let name = cmd.name.clone().unwrap_or_else(|| ids.run.to_string());
    let tenant = def.tenant_id;
    let now = ctx.now;
    let folder = PathPart::new(
        ids.run.into(),
        tenant,
        PathPartKind::WorkflowRun,
        &name,
        Some(&facts.runs_folder),
        now,
    );
    let sub = |id: Uuid, n: &str| {
        PathPart::new(
            id.into(),
            tenant,
            PathPartKind::Folder,
            n,
            Some(&folder),
            now,
        )
    };
    let inputs = sub(ids.inputs, "inputs");
    let outputs = sub(ids.outputs, "outputs");
    let discussions = sub(ids.discussions, "discussions");

    let mut catalog = Vec::with_capacity(4 + 2 * cmd.uploads.len());
    let mut statuses = Vec::with_capacity(cmd.uploads.len());
    for (u, (d, v)) in cmd.uploads.iter().zip(upload_ids) {
        let (doc, version) = new_upload_parts(tenant, &inputs, u, *d, *v, now);
        statuses.push((u.name.clone(), u.ingestion));
        catalog.push(CatalogWrite::PutPart(Box::new(doc)));
        catalog.push(CatalogWrite::PutPart(Box::new(version)));
    }
    // Create never fails a run: a failed upload leaves it NOT_STARTED until it is removed, and
    // auto-start fires only when ingestion settles later (SYNC-2).
    let state = match settle(&statuses, false).0 {
        ExecutionState::Pending => ExecutionState::Pending,
        _ => ExecutionState::NotStarted,
    };
    let run = Run {
        id: RunId(ids.run),
        tenant_id: tenant,
        definition_id: def.id,
        name,
        triggered_by: ctx.actor.user_id,
        execution_state: state,
        approval_state: ApprovalState::NotRequired,
        attempt: 0,
        version: 1,
        input_scope,
        selected_skill_ids: cmd.selected_skill_ids.clone(),
        auto_start: cmd.auto_start,
        auto_start_user_message: cmd.auto_start_user_message.clone(),
        idempotency_key: cmd.idempotency_key.clone(),
        snapshot: None,
        started_at: None,
        attempt_started_at: None,
        deadline_at: None,
        completed_at: None,
        error: None,
        run_thread_id: None,
        folders: RunFolders {
            path: folder.path.clone(),
            inputs_id: inputs.id,
            outputs_id: outputs.id,
            discussions_id: discussions.id,
        },
        approval: None,
        created_at: now,
        updated_at: now,
    };
    let mut head = vec![
        CatalogWrite::PutPart(Box::new(folder)),
        CatalogWrite::PutPart(Box::new(inputs)),
        CatalogWrite::PutPart(Box::new(outputs)),
        CatalogWrite::PutPart(Box::new(discussions)),
    ];
    head.append(&mut catalog);
    let mut t = write(run, Event::Created);
    t.catalog = head;
    Ok(Created::New(Box::new(t)))
}

// ------------------------------------------------------------------------------------------- get

/// GET-1: any reader.
pub fn decide_get(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<()> {
    require_read(ctx.access(run, def), run)
}

/// THREAD-1: a new USER message on the run's thread is refused while it is IN_PROGRESS.
pub fn decide_thread_message(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<()> {
    require_read(ctx.access(run, def), run)?;
    if run.execution_state == ExecutionState::InProgress {
        return Err(Error::RunBusy);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------- update

/// Input of Update (PATCH). At least one field must be present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateRun {
    /// Replaces the scope wholesale (UPDATE-5).
    pub input_scope: Option<Vec<PathPartId>>,
    /// Renames the run and its folder (UPDATE-4).
    pub name: Option<String>,
    /// Arms or disarms auto-start.
    pub auto_start: Option<bool>,
    /// Sets the auto-start message; an empty string clears it.
    pub auto_start_user_message: Option<String>,
}

impl UpdateRun {
    /// UPDATE-3 and field checks, before anything is read.
    pub fn validate(&self) -> Result<()> {
        if self.input_scope.is_none()
            && self.name.is_none()
            && self.auto_start.is_none()
            && self.auto_start_user_message.is_none()
        {
            return Err(Error::invalid(
                "body",
                "at least one of input_scope, name must be present",
            ));
        }
        if let Some(n) = &self.name {
            validate_name("name", n)?;
        }
        if let Some(s) = &self.input_scope {
            if s.len() > MAX_INPUT_SCOPE {
                return Err(Error::invalid(
                    "input_scope",
                    format!("at most {MAX_INPUT_SCOPE} ids"),
                ));
            }
        }
        validate_len(
            "user_message",
            self.auto_start_user_message.as_deref(),
            MAX_USER_MESSAGE_LEN,
        )
    }
}

/// Facts Update needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateFacts {
    /// The new scope, resolved (when given).
    pub scope: Option<Vec<Resolved>>,
    /// Whether another run of the definition has the new name.
    pub name_taken: bool,
    /// The run folder's descendants, whose paths follow a rename.
    pub subtree: Vec<PathPart>,
    /// The run folder itself.
    pub folder: Option<PathPart>,
}

/// Update (UPDATE-1..5).
pub fn decide_update(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &UpdateRun,
    facts: &UpdateFacts,
) -> Result<Decision> {
    cmd.validate()?;
    require_manage(ctx.access(run, def), run, "update")?;
    if run.execution_state != ExecutionState::NotStarted {
        return Err(conflict(
            run,
            format!("a {} run cannot be edited", run.execution_state),
        ));
    }
    let mut next = bump(run, ctx.now);
    let mut catalog = Vec::new();
    if let Some(scope) = &facts.scope {
        next.input_scope = validate_scope(ctx, scope)?;
    }
    if let Some(name) = &cmd.name {
        if *name != run.name {
            if facts.name_taken {
                return Err(conflict(
                    run,
                    "a run of this definition already has that name",
                ));
            }
            let folder = facts
                .folder
                .as_ref()
                .ok_or_else(|| Error::Internal(format!("run folder of {} missing", run.id)))?;
            let old = folder.path.clone();
            let parent = old.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            let new = child_path(parent, name);
            let mut f = folder.clone();
            f.name = name.clone();
            f.path = new.clone();
            catalog.push(CatalogWrite::PutPart(Box::new(f)));
            for d in &facts.subtree {
                let mut d = d.clone();
                d.path = format!("{new}{}", &d.path[old.len().min(d.path.len())..]);
                catalog.push(CatalogWrite::PutPart(Box::new(d)));
            }
            next.name = name.clone();
            next.folders.path = new;
        }
    }
    if let Some(a) = cmd.auto_start {
        next.auto_start = a;
    }
    if let Some(m) = &cmd.auto_start_user_message {
        next.auto_start_user_message = if m.is_empty() { None } else { Some(m.clone()) };
    }
    let mut t = write(next, Event::Updated);
    t.catalog = catalog;
    Ok(Decision::Write(Box::new(t)))
}

// ----------------------------------------------------------------------------------------- start

/// Input of Start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartRun {
    /// START-7: ≤ 4000 characters, pinned into the snapshot.
    pub user_message: Option<String>,
}

impl StartRun {
    /// Field checks, decided before the run is looked up (VIS-1: a bad body answers the same
    /// for a hidden run as for an unknown one).
    pub fn validate(&self) -> Result<()> {
        validate_len(
            "user_message",
            self.user_message.as_deref(),
            MAX_USER_MESSAGE_LEN,
        )
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

/// Whether every upload is ingested (START-4).
fn uploads_ready(facts: &StartFacts) -> bool {
    facts.uploads.iter().all(|r| {
        r.active_version
            .as_ref()
            .and_then(|v| v.version.as_ref())
            .is_some_and(|v| v.ingestion == Ingestion::Completed)
    })
}

/// Start (START-1..8). The permission check comes first (VIS-2).
pub fn decide_start(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &StartRun,
    facts: &StartFacts,
    thread_id: Uuid,
) -> Result<Decision> {
    cmd.validate()?;
    require_manage(ctx.access(run, def), run, "start")?;
    match run.execution_state {
        ExecutionState::InProgress => return Ok(Decision::Unchanged),
        ExecutionState::Completed | ExecutionState::Failed => {
            return Err(conflict(
                run,
                format!("a {} run cannot be started", run.execution_state),
            ))
        }
        ExecutionState::Pending => {
            return Err(conflict(run, "the run's uploads are still ingesting"))
        }
        ExecutionState::NotStarted => {}
    }
    start_from_draft(
        ctx,
        run,
        def,
        cmd.user_message.clone(),
        facts,
        thread_id,
        Event::Started,
    )
}

fn start_from_draft(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    user_message: Option<String>,
    facts: &StartFacts,
    thread_id: Uuid,
    event: Event,
) -> Result<Decision> {
    if !def.is_active || def.is_template {
        return Err(conflict(
            run,
            "the workflow definition is inactive or a template",
        ));
    }
    if !uploads_ready(facts) {
        return Err(conflict(
            run,
            "an upload is not ingested (still ingesting, or failed)",
        ));
    }
    let snapshot = build_snapshot(
        ctx.actor,
        ctx.grants,
        def,
        run,
        facts,
        user_message,
        ctx.now,
    )?;
    let mut next = bump(run, ctx.now);
    next.execution_state = ExecutionState::InProgress;
    next.attempt = run.attempt + 1;
    next.started_at = Some(ctx.now);
    next.attempt_started_at = Some(ctx.now);
    next.deadline_at = Some(deadline(ctx, &snapshot));
    next.run_thread_id = Some(thread_id);
    next.snapshot = Some(snapshot);
    next.error = None;
    next.completed_at = None;
    let dispatch = dispatch_of(&next)?;
    let mut t = write(next, event);
    t.outbox.push(dispatch);
    Ok(Decision::Write(Box::new(t)))
}

fn deadline(ctx: &Ctx<'_>, snapshot: &crate::Snapshot) -> Timestamp {
    ctx.now + chrono::Duration::seconds(i64::from(snapshot.max_run_duration_seconds)) + ctx.grace
}

// ------------------------------------------------------------------------------------------ stop

fn fail(run: &Run, now: Timestamp, error: &str) -> Run {
    let mut next = bump(run, now);
    next.execution_state = ExecutionState::Failed;
    next.completed_at = Some(now);
    next.deadline_at = None;
    next.error = Some(error.to_owned());
    next
}

/// Stop (STOP-1..4): a pure store write; the cancel is queued, best effort.
pub fn decide_stop(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    require_manage(ctx.access(run, def), run, "stop")?;
    if run.execution_state != ExecutionState::InProgress {
        return Ok(Decision::Unchanged);
    }
    let mut t = write(fail(run, ctx.now, STOPPED_BY_USER), Event::Stopped);
    t.reason = Some(STOPPED_BY_USER.into());
    t.outbox.push(cancel_of(run, STOPPED_BY_USER));
    Ok(Decision::Write(Box::new(t)))
}

// -------------------------------------------------------------------------------------- callback

/// Input of Callback (CB-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    /// The attempt's outcome.
    pub status: CallbackStatus,
    /// ≤ 8192 characters; stored on FAILED.
    pub error: Option<String>,
    /// The attempt it reports on; `None` means "the current one".
    pub attempt: Option<u32>,
}

impl Callback {
    /// Field checks, decided before the run is looked up (VIS-1).
    pub fn validate(&self) -> Result<()> {
        validate_len("error", self.error.as_deref(), MAX_ERROR_LEN)
    }
}

/// Callback (CB-1..7). The order of checks: fields, permission (CB-6), never started (CB-5),
/// stale attempt (CB-4), already terminal (CB-3), then the write (CB-1, CB-2, CB-7).
pub fn decide_callback(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &Callback,
) -> Result<(Decision, CallbackOutcome)> {
    cmd.validate()?;
    require_manage(ctx.access(run, def), run, "report on")?;
    if matches!(
        run.execution_state,
        ExecutionState::Pending | ExecutionState::NotStarted
    ) {
        return Err(conflict(run, "the run was never started"));
    }
    if cmd.attempt.is_some_and(|a| a != run.attempt) {
        return Ok((Decision::Unchanged, CallbackOutcome::StaleAttempt));
    }
    if run.execution_state.is_terminal() {
        return Ok((Decision::Unchanged, CallbackOutcome::AlreadyTerminal));
    }
    let mut next = bump(run, ctx.now);
    next.completed_at = Some(ctx.now);
    next.deadline_at = None;
    let event = match cmd.status {
        CallbackStatus::Completed => {
            next.execution_state = ExecutionState::Completed;
            let required = run.snapshot.as_ref().is_some_and(|s| s.approval_required);
            next.approval_state = if required {
                ApprovalState::Pending
            } else {
                ApprovalState::NotRequired
            };
            Event::Completed
        }
        CallbackStatus::Failed => {
            next.execution_state = ExecutionState::Failed;
            next.error = Some(cmd.error.clone().unwrap_or_else(|| "Failed".to_owned()));
            Event::Failed
        }
    };
    let mut t = write(next, event);
    t.reason = cmd.error.clone();
    Ok((Decision::Write(Box::new(t)), CallbackOutcome::Updated))
}

// ----------------------------------------------------------------------------------------- retry

/// Retry (RETRY-1..3): in place, same snapshot, new attempt. The thread stays the same.
pub fn decide_retry(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    require_manage(ctx.access(run, def), run, "retry")?;
    let snapshot = match (&run.execution_state, &run.snapshot) {
        (ExecutionState::Failed, Some(s)) => s,
        (ExecutionState::Failed, None) => {
            return Err(conflict(run, "a run that never started cannot be retried"))
        }
        (s, _) => return Err(conflict(run, format!("a {s} run cannot be retried"))),
    };
    let mut next = bump(run, ctx.now);
    next.execution_state = ExecutionState::InProgress;
    next.attempt = run.attempt + 1;
    next.attempt_started_at = Some(ctx.now);
    next.deadline_at = Some(deadline(ctx, snapshot));
    next.error = None;
    next.completed_at = None;
    let dispatch = dispatch_of(&next)?;
    let mut t = write(next, Event::Retried);
    t.outbox.push(dispatch);
    Ok(Decision::Write(Box::new(t)))
}

// ----------------------------------------------------------------------------------------- clone

/// Input of Clone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneRun {
    /// CLONE-2.
    pub include_inputs: bool,
}

/// Clone (CLONE-1..4): checks the source and derives the new run's create command.
pub fn decide_clone(
    ctx: &Ctx<'_>,
    source: &Run,
    def: &Definition,
    cmd: CloneRun,
) -> Result<CreateRun> {
    require_read(ctx.access(source, def), source)?;
    let Some(snapshot) = &source.snapshot else {
        return Err(conflict(source, "the source run has no snapshot to clone"));
    };
    check_can_create(ctx, def)?;
    let input_scope = if cmd.include_inputs {
        snapshot
            .inputs
            .iter()
            .filter(|i| i.origin != crate::InputOrigin::DefinitionCommon)
            .map(|i| i.path_part_id)
            .collect()
    } else {
        Vec::new()
    };
    Ok(CreateRun {
        name: None,
        input_scope,
        idempotency_key: None,
        auto_start: false,
        auto_start_user_message: None,
        selected_skill_ids: source.selected_skill_ids.clone(),
        uploads: Vec::new(),
    })
}

// -------------------------------------------------------------------------------------- approval

/// Input of Approval (APPROVE-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approve {
    /// Must be `approved`.
    pub state: ApprovalState,
    /// ≤ 2048 characters.
    pub reason: Option<String>,
}

impl Approve {
    /// APPROVE-1 field checks, decided before the run is looked up (VIS-1).
    pub fn validate(&self) -> Result<()> {
        if self.state != ApprovalState::Approved {
            return Err(Error::invalid("state", "must be \"approved\""));
        }
        validate_len("reason", self.reason.as_deref(), MAX_REASON_LEN)
    }
}

/// Approval (APPROVE-1..5): every output document, then the run, in one commit.
pub fn decide_approve(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &Approve,
    outputs: &[PathPart],
) -> Result<Decision> {
    cmd.validate()?;
    let access = ctx.access(run, def);
    require_read(access, run)?;
    if !access.approve {
        return Err(Error::forbidden(if ctx.actor.assumed {
            "an agent acting for a user may never approve"
        } else {
            "approval needs write access to the run folder"
        }));
    }
    if run.approval_state == ApprovalState::Approved {
        return Ok(Decision::Unchanged);
    }
    let required = run.snapshot.as_ref().is_some_and(|s| s.approval_required);
    if run.execution_state != ExecutionState::Completed || !required {
        return Err(conflict(
            run,
            "only a COMPLETED run that requires approval can be approved",
        ));
    }
    let record = ApprovalRecord {
        by: ctx.actor.user_id,
        at: ctx.now,
        reason: cmd.reason.clone(),
    };
    let catalog = outputs
        .iter()
        .filter(|p| p.kind == PathPartKind::Document)
        .map(|p| {
            let mut p = p.clone();
            p.approval_state = ApprovalState::Approved;
            p.approval = Some(record.clone());
            CatalogWrite::PutPart(Box::new(p))
        })
        .collect();
    let mut next = bump(run, ctx.now);
    next.approval_state = ApprovalState::Approved;
    next.approval = Some(record);
    let mut t = write(next, Event::Approved);
    t.reason = cmd.reason.clone();
    t.catalog = catalog;
    Ok(Decision::Write(Box::new(t)))
}

// ---------------------------------------------------------------------------------------- delete

/// Delete (DELETE-1..3): the run and its whole folder go; the history stays.
pub fn decide_delete(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    subtree: &[PathPart],
) -> Result<Transition> {
    require_manage(ctx.access(run, def), run, "delete")?;
    if run.execution_state == ExecutionState::InProgress {
        return Err(conflict(
            run,
            "an IN_PROGRESS run cannot be deleted; stop it first",
        ));
    }
    let mut catalog: Vec<CatalogWrite> = subtree
        .iter()
        .rev()
        .map(|p| CatalogWrite::RemovePart(p.tenant_id, p.id))
        .collect();
    catalog.push(CatalogWrite::RemovePart(run.tenant_id, run.id.into()));
    Ok(Transition {
        write: RunWrite::Delete,
        event: Event::Deleted,
        reason: None,
        outbox: vec![],
        catalog,
    })
}

// ---------------------------------------------------------------------------- uploads and outputs

/// Adding an upload to `inputs/`: triggerer or admin, draft runs only (a started run's inputs
/// are frozen in its snapshot). An unsettled upload makes the run PENDING (SYNC-1).
pub fn decide_add_upload(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    upload: &NewUpload,
    inputs: &PathPart,
    existing: &[(String, Ingestion)],
    ids: (Uuid, Uuid),
) -> Result<(Transition, PathPart)> {
    validate_name("name", &upload.name)?;
    require_manage(ctx.access(run, def), run, "upload to")?;
    if !matches!(
        run.execution_state,
        ExecutionState::NotStarted | ExecutionState::Pending
    ) {
        return Err(conflict(run, "uploads can only be added to a draft run"));
    }
    if existing.iter().any(|(n, _)| *n == upload.name) {
        return Err(conflict(
            run,
            format!("inputs/ already has {:?}", upload.name),
        ));
    }
    let (doc, version) = new_upload_parts(run.tenant_id, inputs, upload, ids.0, ids.1, ctx.now);
    let mut next = bump(run, ctx.now);
    if !upload.ingestion.is_settled() {
        next.execution_state = ExecutionState::Pending;
    }
    let mut t = write(next, Event::UploadAdded);
    t.catalog = vec![
        CatalogWrite::PutPart(Box::new(doc.clone())),
        CatalogWrite::PutPart(Box::new(version)),
    ];
    Ok((t, doc))
}

/// Facts of an ingestion change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestionFacts {
    /// The version whose status changes.
    pub version: PathPart,
    /// Every upload of the run: name and status, with the change already applied.
    pub statuses: Vec<(String, Ingestion)>,
    /// Start facts, for auto-start.
    pub start: StartFacts,
}

/// Ingestion sync (SYNC-1..4), applied when an upload's status changes. Auto-start runs as the
/// triggerer (`ctx.actor` must be the triggerer); if Start refuses (START-*), the run stays
/// NOT_STARTED and the refusal is recorded as the history reason.
pub fn decide_ingestion(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    status: Ingestion,
    facts: &IngestionFacts,
    thread_id: Uuid,
) -> Result<Transition> {
    let mut version = facts.version.clone();
    let info = version
        .version
        .as_mut()
        .ok_or_else(|| Error::invalid("version_id", "not a document version"))?;
    info.ingestion = status;
    let part_write = CatalogWrite::PutPart(Box::new(version));
    let mut next = bump(run, ctx.now);
    let mut event = Event::IngestionChanged;
    let mut reason = None;
    let unsettled = facts.statuses.iter().any(|(_, s)| !s.is_settled());
    match run.execution_state {
        // SYNC-1
        ExecutionState::NotStarted if unsettled => next.execution_state = ExecutionState::Pending,
        ExecutionState::Pending => match settle(&facts.statuses, run.auto_start) {
            (ExecutionState::Failed, error) => {
                // SYNC-3, auto-start armed
                let error = error.unwrap_or_else(|| "An upload failed to ingest".into());
                next = fail(run, ctx.now, &error);
                reason = Some(error);
                event = Event::Failed;
            }
            (ExecutionState::NotStarted, _) if run.auto_start => {
                // SYNC-2: settle, then start as the triggerer with the stored message.
                let mut draft = run.clone();
                draft.execution_state = ExecutionState::NotStarted;
                let msg = run.auto_start_user_message.clone();
                match start_from_draft(
                    ctx,
                    &draft,
                    def,
                    msg,
                    &facts.start,
                    thread_id,
                    Event::Started,
                ) {
                    Ok(Decision::Write(t)) => {
                        let mut t = *t;
                        t.reason = Some("auto-start".into());
                        t.catalog.insert(0, part_write);
                        return Ok(t);
                    }
                    Ok(Decision::Unchanged) => next.execution_state = ExecutionState::NotStarted,
                    Err(e) => {
                        next.execution_state = ExecutionState::NotStarted;
                        reason = Some(format!("auto-start refused: {e}"));
                    }
                }
            }
            (state, _) => next.execution_state = state,
        },
        // SYNC-4 (and a draft whose uploads stay settled)
        _ => {}
    }
    Ok(Transition {
        write: RunWrite::Put(Box::new(next)),
        event,
        reason,
        outbox: Vec::new(),
        catalog: vec![part_write],
    })
}

/// Adding an output document to `outputs/`: the triggerer (the runner acts as it, assumed) or an
/// admin, while the run is IN_PROGRESS.
pub fn decide_add_output(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    name: &str,
    outputs: &PathPart,
    existing: &[PathPart],
    ids: (Uuid, Uuid),
) -> Result<(Transition, PathPart)> {
    validate_name("name", name)?;
    require_manage(ctx.access(run, def), run, "write outputs of")?;
    if run.execution_state != ExecutionState::InProgress {
        return Err(conflict(
            run,
            "outputs can only be written while the run is IN_PROGRESS",
        ));
    }
    if existing.iter().any(|p| p.name == name) {
        return Err(conflict(run, format!("outputs/ already has {name:?}")));
    }
    let upload = NewUpload {
        name: name.to_owned(),
        ingestion: Ingestion::Completed,
    };
    let (mut doc, version) =
        new_upload_parts(run.tenant_id, outputs, &upload, ids.0, ids.1, ctx.now);
    if run.snapshot.as_ref().is_some_and(|s| s.approval_required) {
        doc.approval_state = ApprovalState::Pending;
    }
    let mut t = write(bump(run, ctx.now), Event::OutputAdded);
    t.catalog = vec![
        CatalogWrite::PutPart(Box::new(doc.clone())),
        CatalogWrite::PutPart(Box::new(version)),
    ];
    Ok((t, doc))
}

// ------------------------------------------------------------------------------------------ reap

/// Deadline reaping (REAP-1, REAP-2): idempotent; anything but an expired IN_PROGRESS run is
/// left alone. `deadline_at` is the attempt's start + duration + grace, and REAP-1 reaps an
/// attempt that started *more than* duration + grace ago: strictly after the deadline.
pub fn decide_reap(now: Timestamp, run: &Run) -> Decision {
    let expired = run.execution_state == ExecutionState::InProgress
        && run.deadline_at.is_some_and(|d| d < now);
    if !expired {
        return Decision::Unchanged;
    }
    let mut t = write(fail(run, now, TIMED_OUT), Event::TimedOut);
    t.reason = Some(TIMED_OUT.into());
    t.outbox.push(cancel_of(run, TIMED_OUT));
    Decision::Write(Box::new(t))
}
