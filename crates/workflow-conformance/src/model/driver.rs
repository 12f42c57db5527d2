//! Driving a real engine side by side with the model: [`Driver`] performs model [`Op`]s on a
//! [`workflow_core::Engine`] (inside a [`crate::world::World`]) and describes its answers in
//! model terms, and [`check_sequence`] runs one sequence of steps on both and compares them
//! after every step.

use super::invariants::check_step;
use super::{
    upload_name, ActorKind, ApprovalView, DefKind, Expected, FailReason, Model, NameChoice, Op,
    Person, RunName, RunView, ScopeItem, SnapshotView, RUNNER_ERROR_TEXT,
};

/// Drives a real [`workflow_core::Engine`] (inside a [`crate::world::World`]) with model
/// [`Op`]s and translates its answers into [`Expected`] terms, so that a test compares
/// `driver.observe(op, actor)` with `model.apply(op, actor)`. Also captures the store's state of
/// every run for the step invariants ([`StoreState`], [`check_step`]).
///
/// `observe` takes `&self`, so several threads may drive one engine at once (the
/// linearizability checker does); the bookkeeping sits behind locks.
pub struct Driver<S: workflow_core::Store> {
    /// The engine and its tenant.
    pub world: crate::world::World<S>,
    book: std::sync::Mutex<Book>,
    unknown: workflow_core::RunId,
}

#[derive(Default)]
struct Book {
    /// Engine id of each model run, in creation order.
    ids: Vec<workflow_core::RunId>,
    /// Upload version ids of each model run, in the order they were added.
    uploads: Vec<Vec<workflow_core::PathPartId>>,
    /// The full run the last successful call answered with (for replay comparisons).
    last_run: Option<workflow_core::Run>,
    fresh: u64,
}

/// Everything the store holds about the known runs: rows, histories, outboxes, folders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreState {
    /// The live row of each run (`None` once deleted).
    pub runs: Vec<Option<workflow_core::Run>>,
    /// The history of each run.
    pub histories: Vec<Vec<workflow_core::HistoryRecord>>,
    /// The outbox entries of each run.
    pub outboxes: Vec<Vec<workflow_core::OutboxEntry>>,
    /// The run folder subtree of each run.
    pub folders: Vec<Vec<workflow_core::PathPart>>,
}

/// Why an engine run failed, from its typed failure kind (never from its error text).
fn fail_reason(run: &workflow_core::Run) -> Option<FailReason> {
    use workflow_core::FailureKind;
    run.failure.map(|k| match k {
        FailureKind::Stopped => FailReason::Stopped,
        FailureKind::TimedOut => FailReason::TimedOut,
        FailureKind::UploadFailed => FailReason::UploadFailed,
        FailureKind::Reported => FailReason::Callback,
        FailureKind::DispatchFailed => FailReason::DispatchFailed,
    })
}

/// Model seconds of an engine time: seconds since the world's epoch ([`crate::world::epoch`]).
fn secs(t: workflow_core::Timestamp) -> i64 {
    (t - crate::world::epoch()).num_seconds()
}

/// The model's name of an engine run's name.
fn run_name(run: &workflow_core::Run) -> RunName {
    if run.name == run.id.to_string() {
        return RunName::Default;
    }
    if let Some(n) = run.name.strip_prefix("name-").and_then(|n| n.parse().ok()) {
        return RunName::Pool(n);
    }
    if run.name.starts_with("fresh-") {
        return RunName::Fresh;
    }
    RunName::Other
}

impl<S: workflow_core::Store> Driver<S> {
    /// A fresh world on `store`.
    pub fn new(store: S) -> Self {
        Driver {
            world: crate::world::World::new(store),
            book: std::sync::Mutex::new(Book::default()),
            unknown: workflow_core::RunId(workflow_core::uuid::Uuid::from_u128(0xdead_beef)),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Engine ids of the model's runs, in model order.
    pub fn ids(&self) -> Vec<workflow_core::RunId> {
        self.book().ids.clone()
    }

    /// The full run the last successful call answered with (for replay comparisons).
    pub fn last_run(&self) -> Option<workflow_core::Run> {
        self.book().last_run.clone()
    }

    /// Registers a run made outside the driver (e.g. by `World::run_in`) as the next model run.
    pub fn adopt(&self, id: workflow_core::RunId) -> usize {
        self.index_of(id)
    }

    fn id(&self, run: usize) -> workflow_core::RunId {
        self.book().ids.get(run).copied().unwrap_or(self.unknown)
    }

    fn index_of(&self, id: workflow_core::RunId) -> usize {
        if let Some(i) = self.book().ids.iter().position(|i| *i == id) {
            return i;
        }
        let versions = self.current_uploads(id);
        let mut book = self.book();
        if let Some(i) = book.ids.iter().position(|i| *i == id) {
            return i;
        }
        book.ids.push(id);
        book.uploads.push(versions);
        book.ids.len() - 1
    }

    /// The upload version ids of a live run, in name (= addition) order.
    fn current_uploads(&self, id: workflow_core::RunId) -> Vec<workflow_core::PathPartId> {
        let e = &self.world.engine;
        let t = self.world.tenant;
        let Ok(Some(run)) = e.store().load_run(t, id) else {
            return Vec::new();
        };
        let docs = e.documents_in(t, run.folders.inputs_id).unwrap_or_default();
        docs.iter()
            .filter_map(|d| e.store().children(t, d.id).ok()?.first().map(|v| v.id))
            .collect()
    }

    fn name(&self, choice: NameChoice) -> Option<String> {
        match choice {
            NameChoice::Default => None,
            NameChoice::Pool(n) => Some(format!("name-{n}")),
            NameChoice::Fresh => {
                let mut book = self.book();
                book.fresh += 1;
                Some(format!("fresh-{}", book.fresh))
            }
            NameChoice::Invalid => Some("bad/name".into()),
        }
    }

    /// The path-part ids of scope items (an upload item stands for every upload of its run).
    fn scope_ids(&self, items: &[ScopeItem]) -> Vec<workflow_core::PathPartId> {
        let w = &self.world;
        let first_child = |id| {
            w.engine
                .store()
                .children(w.tenant, id)
                .ok()
                .and_then(|c| c.first().map(|v| v.id))
                .unwrap_or(id)
        };
        let unknown = workflow_core::PathPartId(workflow_core::uuid::Uuid::from_u128(0xfeed_f00d));
        items
            .iter()
            .flat_map(|item| match item {
                ScopeItem::Doc => vec![w.doc.id],
                ScopeItem::DocV1 => vec![w.doc_v1.id],
                ScopeItem::Crm => vec![w.crm.id],
                ScopeItem::Eng => vec![w.eng.id],
                ScopeItem::Secret => vec![w.secret.id],
                ScopeItem::SecretV1 => vec![first_child(w.secret.id)],
                ScopeItem::Definition => vec![w.def.id.into()],
                ScopeItem::Unknown => vec![unknown],
                ScopeItem::Upload(k) => match self.book().uploads.get(*k) {
                    Some(u) if !u.is_empty() => u.clone(),
                    _ => vec![unknown],
                },
            })
            .collect()
    }

    /// The model's view of an engine run: every field of [`RunView`], ids of the world's
    /// knowledge base and of the model's runs' uploads named as [`ScopeItem`]s, times in model
    /// seconds.
    pub fn view(&self, run: &workflow_core::Run) -> RunView {
        let items = |ids: &mut dyn Iterator<Item = workflow_core::PathPartId>| {
            let mut out: Vec<ScopeItem> = Vec::new();
            for id in ids {
                let item = self.scope_item(id);
                // An upload item stands for every upload of its run (see `scope_ids`).
                if matches!(item, ScopeItem::Upload(_)) && out.last() == Some(&item) {
                    continue;
                }
                out.push(item);
            }
            out
        };
        let snapshot = run.snapshot.as_ref().map(|s| SnapshotView {
            approval_required: s.approval_required,
            inputs: items(&mut s.inputs.iter().map(|i| i.path_part_id)),
            created_at: secs(s.created_at),
        });
        RunView {
            execution_state: run.execution_state,
            approval_state: run.approval_state,
            attempt: run.attempt,
            has_snapshot: run.snapshot.is_some(),
            version: run.version,
            error: fail_reason(run),
            error_text: run.error.clone(),
            name: run_name(run),
            scope: items(&mut run.input_scope.iter().copied()),
            snapshot,
            approval: run.approval.as_ref().map(|a| ApprovalView {
                by: self.person(a.by),
                at: secs(a.at),
            }),
            created_at: secs(run.created_at),
            updated_at: secs(run.updated_at),
            started_at: run.started_at.map(secs),
            attempt_started_at: run.attempt_started_at.map(secs),
            deadline_at: run.deadline_at.map(secs),
            completed_at: run.completed_at.map(secs),
        }
    }

    /// The person of the world a user id belongs to.
    fn person(&self, user: workflow_core::UserId) -> Option<Person> {
        let w = &self.world;
        [
            (&w.owner, Person::Owner),
            (&w.admin, Person::Admin),
            (&w.triggerer, Person::Triggerer),
            (&w.user_read, Person::UserRead),
            (&w.user_read_write, Person::UserReadWrite),
            (&w.user_no_grant, Person::UserNoGrant),
            (&w.other_owner, Person::OtherTenantOwner),
        ]
        .into_iter()
        .find(|(a, _)| a.user_id == user)
        .map(|(_, p)| p)
    }

    /// The scope item a path-part id stands for ([`ScopeItem::Unknown`] when none).
    fn scope_item(&self, id: workflow_core::PathPartId) -> ScopeItem {
        let w = &self.world;
        let secret_v1 = || {
            w.engine
                .store()
                .children(w.tenant, w.secret.id)
                .ok()
                .and_then(|c| c.first().map(|v| v.id))
        };
        if id == w.doc.id {
            ScopeItem::Doc
        } else if id == w.doc_v1.id {
            ScopeItem::DocV1
        } else if id == w.crm.id {
            ScopeItem::Crm
        } else if id == w.eng.id {
            ScopeItem::Eng
        } else if id == w.secret.id {
            ScopeItem::Secret
        } else if id == workflow_core::PathPartId::from(w.def.id) {
            ScopeItem::Definition
        } else if let Some(k) = self.book().uploads.iter().position(|u| u.contains(&id)) {
            ScopeItem::Upload(k)
        } else if Some(id) == secret_v1() {
            ScopeItem::SecretV1
        } else {
            ScopeItem::Unknown
        }
    }

    fn answer(&self, r: workflow_core::Result<workflow_core::Run>) -> Expected {
        match r {
            Ok(run) => {
                let i = self.index_of(run.id);
                let view = self.view(&run);
                self.book().last_run = Some(run);
                Expected::Run { run: i, view }
            }
            Err(e) => Expected::Error(e.code()),
        }
    }

    /// Do `op` as `actor` on the engine and describe its answer in model terms.
    pub fn observe(&self, op: &Op, actor: ActorKind) -> Expected {
        use workflow_core::*;
        self.book().last_run = None;
        let Some(a) = self.world.actor(actor.vector_name()) else {
            return Expected::Error(ErrorCode::InternalError);
        };
        let w = &self.world;
        let e = &w.engine;
        match op {
            Op::Create {
                def,
                name,
                uploads,
                auto_start,
                idempotency_key,
                scope,
            } => {
                let input_scope = self.scope_ids(scope);
                let def = match def {
                    DefKind::Approval => w.def.id,
                    DefKind::Plain => w.def_plain.id,
                };
                let cmd = CreateRun {
                    name: self.name(*name),
                    idempotency_key: idempotency_key.map(|k| format!("key-{k}")),
                    auto_start: *auto_start,
                    input_scope,
                    uploads: uploads
                        .iter()
                        .enumerate()
                        .map(|(i, s)| NewUpload {
                            name: upload_name(i),
                            ingestion: *s,
                        })
                        .collect(),
                    ..CreateRun::default()
                };
                let r = self.world.engine.create_run(&a, def, cmd);
                self.answer(r)
            }
            Op::Get { run } => {
                let r = e.get_run(&a, self.id(*run));
                self.answer(r)
            }
            Op::ThreadMessage { run } => {
                let r = e.check_thread_message(&a, self.id(*run));
                self.answer(r)
            }
            Op::AddOutput { run } => {
                let name = {
                    let mut book = self.book();
                    book.fresh += 1;
                    format!("out-{}", book.fresh)
                };
                match e.add_output(&a, self.id(*run), &name) {
                    Ok(_) => Expected::OutputAdded,
                    Err(err) => Expected::Error(err.code()),
                }
            }
            Op::Update { run, name, scope } => {
                let id = self.id(*run);
                let cmd = UpdateRun {
                    name: name.and_then(|n| self.name(n)),
                    input_scope: scope.as_ref().map(|s| self.scope_ids(s)),
                    ..UpdateRun::default()
                };
                let r = self.world.engine.update_run(&a, id, cmd);
                self.answer(r)
            }
            Op::Start { run } => {
                let r = e.start_run(&a, self.id(*run), StartRun::default());
                self.answer(r)
            }
            Op::Stop { run } => {
                let r = e.stop_run(&a, self.id(*run));
                self.answer(r)
            }
            Op::Callback {
                run,
                status,
                attempt,
                error_too_long,
            } => {
                let error = match (error_too_long, status) {
                    (true, _) => Some("x".repeat(8193)),
                    (false, CallbackStatus::Failed) => Some(RUNNER_ERROR_TEXT.into()),
                    (false, CallbackStatus::Completed) => None,
                };
                let cmd = Callback {
                    status: *status,
                    error,
                    attempt: *attempt,
                };
                match e.callback(&a, self.id(*run), cmd) {
                    Ok(res) => {
                        let view = self.view(&res.run);
                        self.book().last_run = Some(res.run);
                        Expected::Callback {
                            answer: res.outcome,
                            view,
                        }
                    }
                    Err(err) => Expected::Error(err.code()),
                }
            }
            Op::Retry { run } => {
                let r = e.retry_run(&a, self.id(*run));
                self.answer(r)
            }
            Op::Clone {
                run,
                include_inputs,
            } => {
                let cmd = CloneRun {
                    include_inputs: *include_inputs,
                };
                let r = e.clone_run(&a, self.id(*run), cmd);
                self.answer(r)
            }
            Op::Approve { run, approved } => {
                let cmd = Approve {
                    state: if *approved {
                        ApprovalState::Approved
                    } else {
                        ApprovalState::Pending
                    },
                    reason: None,
                };
                let r = e.approve_run(&a, self.id(*run), cmd);
                self.answer(r)
            }
            Op::Delete { run } => match e.delete_run(&a, self.id(*run)) {
                Ok(()) => Expected::Deleted,
                Err(err) => Expected::Error(err.code()),
            },
            Op::AddUpload { run, ingestion } => {
                let id = self.id(*run);
                let n = self.book().uploads.get(*run).map_or(0, Vec::len);
                let upload = NewUpload {
                    name: upload_name(n),
                    ingestion: *ingestion,
                };
                match e.add_upload(&a, id, upload) {
                    Ok((r, doc)) => {
                        let version = e
                            .store()
                            .children(w.tenant, doc.id)
                            .ok()
                            .and_then(|c| c.first().map(|v| v.id));
                        if let (Some(v), Some(list)) = (version, self.book().uploads.get_mut(*run))
                        {
                            list.push(v);
                        }
                        self.answer(Ok(r))
                    }
                    Err(err) => Expected::Error(err.code()),
                }
            }
            Op::SetIngestion {
                run,
                upload,
                status,
            } => {
                let version = self
                    .book()
                    .uploads
                    .get(*run)
                    .and_then(|u| u.get(*upload))
                    .copied()
                    .unwrap_or(PathPartId(uuid::Uuid::from_u128(0xfeed)));
                let r = e.set_upload_ingestion(w.tenant, version, *status);
                self.answer(r)
            }
            Op::AdvanceClock { seconds } => {
                w.clock
                    .advance(chrono::Duration::seconds(i64::from(*seconds)));
                Expected::Done
            }
            Op::Reap => match e.reap_expired() {
                Ok(ids) => {
                    let mut idx: Vec<usize> = ids.into_iter().map(|i| self.index_of(i)).collect();
                    idx.sort_unstable();
                    Expected::Reaped(idx)
                }
                Err(err) => Expected::Error(err.code()),
            },
            Op::List => {
                let q = ListRuns {
                    limit: 100,
                    ..ListRuns::default()
                };
                match e.list_runs(&a, q) {
                    Ok(page) if page.total != page.items.len() as u64 => {
                        Expected::Error(ErrorCode::InternalError)
                    }
                    Ok(page) => {
                        let mut idx: Vec<usize> =
                            page.items.iter().map(|r| self.index_of(r.id)).collect();
                        idx.sort_unstable();
                        Expected::Listed(idx)
                    }
                    Err(err) => Expected::Error(err.code()),
                }
            }
        }
    }

    /// What the store holds about every known run now.
    pub fn state(&self) -> StoreState {
        let s = self.world.engine.store();
        let t = self.world.tenant;
        let mut out = StoreState {
            runs: Vec::new(),
            histories: Vec::new(),
            outboxes: Vec::new(),
            folders: Vec::new(),
        };
        for id in &self.ids() {
            out.runs.push(s.load_run(t, *id).ok().flatten());
            out.histories.push(s.history(t, *id).unwrap_or_default());
            out.outboxes
                .push(s.outbox_for_run(t, *id).unwrap_or_default());
            out.folders
                .push(s.descendants(t, (*id).into()).unwrap_or_default());
        }
        out
    }
}

/// Generated run indices at or above this stand for an id nobody knows (see [`resolve`]).
pub const UNKNOWN_RUN: usize = 63;

/// Points a generated op at one of the `runs` existing runs (index modulo `runs`, deleted ones
/// included), or at an unknown id when the index is [`UNKNOWN_RUN`] or above or there is no run.
pub fn resolve(op: &Op, runs: usize) -> Op {
    let mut op = op.clone();
    let pick = |r: &mut usize| {
        *r = if runs == 0 || *r >= UNKNOWN_RUN {
            runs + 1
        } else {
            *r % runs
        }
    };
    match &mut op {
        Op::Get { run }
        | Op::Update { run, .. }
        | Op::Start { run }
        | Op::Stop { run }
        | Op::Callback { run, .. }
        | Op::Retry { run }
        | Op::Clone { run, .. }
        | Op::Approve { run, .. }
        | Op::Delete { run }
        | Op::AddUpload { run, .. }
        | Op::SetIngestion { run, .. }
        | Op::ThreadMessage { run }
        | Op::AddOutput { run } => pick(run),
        Op::Create { .. } | Op::AdvanceClock { .. } | Op::Reap | Op::List => {}
    }
    op
}

/// The run a step may move out of FAILED (a Retry's target).
fn retry_target(op: &Op) -> Option<usize> {
    match op {
        Op::Retry { run } => Some(*run),
        _ => None,
    }
}

/// Runs `steps` (run indices resolved with [`resolve`]) on the engine over `store` and on the
/// model, and returns the first disagreement. After every step: the answers are equal; each
/// run's history length is the model's count of transitions (AUDIT-1); [`check_step`] holds;
/// and a call that wrote nothing, replayed, answers the same (same full run) and writes nothing
/// (START-2, STOP-2, CB-3, CB-4, APPROVE-4, CREATE-6).
pub fn check_sequence<S: workflow_core::Store>(
    store: S,
    steps: &[(Op, ActorKind)],
) -> Result<(), String> {
    let driver = Driver::new(store);
    let mut model = Model::new();
    for (n, (op, actor)) in steps.iter().enumerate() {
        let op = &resolve(op, model.runs.len());
        let at = |msg: String| format!("step {n}: {op:?} by {actor:?}: {msg}");
        let before = driver.state();
        let transitions_before = model.total_transitions();
        let runs_before = model.runs.len();
        let expected = model.apply(op, *actor);
        let got = driver.observe(op, *actor);
        if got != expected {
            return Err(at(format!("engine {got:?}, model {expected:?}")));
        }
        let after = driver.state();
        let refused = matches!(expected, Expected::Error(_));
        check_step(&before, &after, refused, retry_target(op)).map_err(at)?;
        for (i, m) in model.runs.iter().enumerate() {
            let h = after.histories.get(i).map_or(0, Vec::len) as u64;
            if h != m.transitions {
                return Err(at(format!(
                    "run {i}: {h} history records, model {}",
                    m.transitions
                )));
            }
        }
        // Replays of a call that wrote nothing give the same answer and write nothing.
        let wrote =
            model.total_transitions() != transitions_before || model.runs.len() != runs_before;
        let replayable = !refused && !wrote && !matches!(op, Op::AdvanceClock { .. });
        if replayable {
            let first_run = driver.last_run();
            let again_model = model.apply(op, *actor);
            let again = driver.observe(op, *actor);
            if again != expected || again_model != expected {
                return Err(at(format!(
                    "replay answered {again:?} (model {again_model:?})"
                )));
            }
            if driver.last_run() != first_run {
                return Err(at("replay answered a different run".into()));
            }
            if driver.state() != after {
                return Err(at("replay of an unchanged call wrote something".into()));
            }
        }
    }
    Ok(())
}
