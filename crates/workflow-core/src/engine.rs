//! The [`Engine`]: one method per operation. Each call loads, decides (pure), and commits with
//! the version it decided on; a conflict means someone else committed first, so it reloads and
//! decides again, a bounded number of times.

use crate::error::{Error, Result, StoreError};
use crate::ids::{DefinitionId, PathPartId, RunId, TenantId};
use crate::model::{
    Actor, ActorStamp, ApprovalState, CallbackOutcome, Capability, Definition, Event,
    ExecutionState, Grant, HistoryRecord, Ingestion, OutboxMessage, Page, PathPart, PathPartKind,
    Role, Run, RunOrder, Tenant, Timestamp, User, VersionInfo, DEFAULT_MAX_RUN_DURATION_SECONDS,
};
use crate::policy::{self, validate_name};
use crate::rules::{
    self, Approve, Callback, CloneRun, CreateFacts, CreateRun, Created, Ctx, Decision, FreshIds,
    IngestionFacts, NewUpload, StartRun, Transition, UpdateFacts, UpdateRun,
};
use crate::snapshot::{Resolved, StartFacts};
use crate::store::{
    CatalogWrite, Clock, Commit, CommitOutcome, Dispatcher, IdGen, NoopDispatcher, RandomIds,
    RunQuery, RunWrite, Store, SystemClock, Visibility,
};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Tunables of an [`Engine`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Added to `max_run_duration_seconds` before the reaper fails a run (REAP-1).
    pub grace: chrono::Duration,
    /// How many times a call reloads and decides again after a version conflict.
    pub max_conflict_retries: u32,
    /// Relay the outbox right after each commit that queued messages (best effort; the
    /// background relay catches up with whatever fails).
    pub relay_after_commit: bool,
    /// Messages handed to the dispatcher per relay pass.
    pub relay_batch: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            grace: chrono::Duration::seconds(60),
            max_conflict_retries: 64,
            relay_after_commit: true,
            relay_batch: 256,
        }
    }
}

/// What one relay pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Messages the dispatcher accepted.
    pub delivered: u32,
    /// Messages the dispatcher refused; they stay queued.
    pub failed: u32,
}

/// Input of List (LIST-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRuns {
    /// One definition, or the whole tenant.
    pub definition_id: Option<DefinitionId>,
    /// Filter on execution state.
    pub execution_state: Option<ExecutionState>,
    /// Filter on approval state.
    pub approval_state: Option<ApprovalState>,
    /// Only runs the actor triggered.
    pub mine: bool,
    /// Newest first by this time.
    pub order: RunOrder,
    /// 1..=100.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

impl Default for ListRuns {
    fn default() -> Self {
        ListRuns {
            definition_id: None,
            execution_state: None,
            approval_state: None,
            mine: false,
            order: RunOrder::CreatedAt,
            limit: 20,
            offset: 0,
        }
    }
}

/// Input of definition creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDefinition {
    /// The id to use (the fixture's), or `None` for a fresh one.
    pub id: Option<DefinitionId>,
    /// The folder it goes in.
    pub parent_id: PathPartId,
    /// Its name (CREATE-4 rules).
    pub name: String,
    /// The instruction DOCUMENT.
    pub instruction_id: Option<PathPartId>,
    /// 60..=7200; default 1800.
    pub max_run_duration_seconds: Option<u32>,
    /// Whether completed runs need approval.
    pub approval_required: bool,
    /// Inactive definitions cannot have runs.
    pub is_active: bool,
    /// Templates cannot have runs.
    pub is_template: bool,
    /// Attached to every run.
    pub common_file_ids: Vec<PathPartId>,
    /// Force-loaded skills.
    pub selected_skill_ids: Vec<Uuid>,
    /// When `instruction_id` is `None`: create an empty `instruction.md` DOCUMENT under the
    /// definition (id `uuid v5(definition id, "instruction.md")`) and use it, in the same atomic
    /// catalog write as the definition (as the Knowledge Stack API does).
    pub create_empty_instruction: bool,
}

/// A callback's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackResult {
    /// CB-3, CB-4, CB-7.
    pub outcome: CallbackOutcome,
    /// The run as it now stands.
    pub run: Run,
}

/// The lifecycle engine over a [`Store`].
pub struct Engine<S> {
    store: S,
    dispatcher: Arc<dyn Dispatcher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    config: EngineConfig,
    relay_lock: Mutex<()>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish()
    }
}

type Step<T> = (Option<Transition>, T);

impl<S: Store> Engine<S> {
    /// An engine with the wall clock, random ids and a dispatcher that does nothing.
    pub fn new(store: S) -> Self {
        Engine {
            store,
            dispatcher: Arc::new(NoopDispatcher),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            config: EngineConfig::default(),
            relay_lock: Mutex::new(()),
        }
    }

    /// Use this dispatcher.
    pub fn with_dispatcher(mut self, d: Arc<dyn Dispatcher>) -> Self {
        self.dispatcher = d;
        self
    }

    /// Use this clock.
    pub fn with_clock(mut self, c: Arc<dyn Clock>) -> Self {
        self.clock = c;
        self
    }

    /// Use this id generator.
    pub fn with_ids(mut self, ids: Arc<dyn IdGen>) -> Self {
        self.ids = ids;
        self
    }

    /// Use this configuration.
    pub fn with_config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock's time now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The path grants of `actor` (empty for OWNER/ADMIN, who need none).
    pub fn grants_of(&self, actor: &Actor) -> Result<Vec<Grant>> {
        if actor.role.is_admin() {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .user(actor.tenant_id, actor.user_id)?
            .map(|u| u.grants)
            .unwrap_or_default())
    }

    fn definition_of(&self, run: &Run) -> Result<Definition> {
        self.store
            .definition(run.tenant_id, run.definition_id)?
            .ok_or_else(|| {
                Error::Store(StoreError::corrupt(format!(
                    "definition {} of run {} is missing",
                    run.definition_id, run.id
                )))
            })
    }

    fn resolve(&self, tenant: TenantId, id: PathPartId) -> Result<Resolved> {
        let part = self.store.path_part(tenant, id)?;
        let active_version = match &part {
            Some(p) if p.kind == PathPartKind::Document => self.active_version(tenant, p.id)?,
            _ => None,
        };
        Ok(Resolved {
            id,
            part,
            active_version,
        })
    }

    fn active_version(&self, tenant: TenantId, doc: PathPartId) -> Result<Option<PathPart>> {
        Ok(self.store.children(tenant, doc)?.into_iter().find(|v| {
            v.kind == PathPartKind::DocumentVersion && v.version.as_ref().is_some_and(|i| i.active)
        }))
    }

    fn resolve_all(&self, tenant: TenantId, ids: &[PathPartId]) -> Result<Vec<Resolved>> {
        ids.iter().map(|id| self.resolve(tenant, *id)).collect()
    }

    /// The documents directly under `folder` (a run's `inputs/` or `outputs/`).
    pub fn documents_in(&self, tenant: TenantId, folder: PathPartId) -> Result<Vec<PathPart>> {
        Ok(self
            .store
            .children(tenant, folder)?
            .into_iter()
            .filter(|p| p.kind == PathPartKind::Document)
            .collect())
    }

    fn start_facts(&self, run: &Run, def: &Definition) -> Result<StartFacts> {
        let t = run.tenant_id;
        Ok(StartFacts {
            instruction: def.instruction_id.map(|i| self.resolve(t, i)).transpose()?,
            scope: self.resolve_all(t, &run.input_scope)?,
            uploads: self
                .documents_in(t, run.folders.inputs_id)?
                .into_iter()
                .map(|d| {
                    let active_version = self.active_version(t, d.id)?;
                    Ok(Resolved {
                        id: d.id,
                        part: Some(d),
                        active_version,
                    })
                })
                .collect::<Result<_>>()?,
            common: self.resolve_all(t, &def.common_file_ids)?,
        })
    }

    fn upload_statuses(&self, run: &Run) -> Result<Vec<(String, Ingestion, PathPartId)>> {
        let mut out = Vec::new();
        for d in self.documents_in(run.tenant_id, run.folders.inputs_id)? {
            let status = self
                .active_version(run.tenant_id, d.id)?
                .and_then(|v| v.version.map(|i| i.ingestion).map(|i| (i, v.id)));
            if let Some((i, vid)) = status {
                out.push((d.name, i, vid));
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------------- commit plumbing

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
        };
        match self.store.commit(commit)? {
            CommitOutcome::Committed => {
                if queued && self.config.relay_after_commit {
                    // Best effort: a failure leaves the messages queued for the next relay.
                    let _ = self.relay_outbox();
                }
                Ok(true)
            }
            CommitOutcome::Conflict(_) => Ok(false),
        }
    }

    fn contention() -> Error {
        Error::Store(StoreError::unavailable(
            "too many concurrent changes to this run; retry",
        ))
    }

    /// The load → decide → commit loop on one existing run. `decide` returns what to write
    /// (if anything) and an answer; the result is the run as it stands afterwards (`None` when
    /// deleted) and the answer of the decision that took effect.
    fn on_run<T>(
        &self,
        tenant: TenantId,
        run_id: RunId,
        stamp: ActorStamp,
        mut decide: impl FnMut(&Run, &Definition, Timestamp) -> Result<Step<T>>,
    ) -> Result<(Option<Run>, T)> {
        for _ in 0..self.config.max_conflict_retries {
            let run = self
                .store
                .load_run(tenant, run_id)?
                .ok_or_else(|| Error::not_found("workflow run", run_id))?;
            let def = self.definition_of(&run)?;
            let now = self.clock.now();
            let (t, answer) = decide(&run, &def, now)?;
            let Some(t) = t else {
                return Ok((Some(run), answer));
            };
            let next = match &t.write {
                RunWrite::Put(r) => Some((**r).clone()),
                RunWrite::Delete => None,
            };
            if self.commit(Some(&run), run_id, tenant, t, stamp, now)? {
                return Ok((next, answer));
            }
        }
        Err(Self::contention())
    }

    fn on_run_as(
        &self,
        actor: &Actor,
        run_id: RunId,
        mut decide: impl FnMut(&Ctx<'_>, &Run, &Definition) -> Result<Decision>,
    ) -> Result<Run> {
        let grants = self.grants_of(actor)?;
        let grace = self.config.grace;
        let (run, ()) = self.on_run(actor.tenant_id, run_id, actor.into(), |run, def, now| {
            let ctx = Ctx {
                actor,
                grants: &grants,
                now,
                grace,
            };
            Ok((into_step(decide(&ctx, run, def)?), ()))
        })?;
        run.ok_or_else(|| Error::Internal("run vanished".into()))
    }

    // ------------------------------------------------------------------------------ operations

    /// Create a run of a definition (CREATE-1..7).
    pub fn create_run(
        &self,
        actor: &Actor,
        definition_id: DefinitionId,
        cmd: CreateRun,
    ) -> Result<Run> {
        rules::validate_create(&cmd)?;
        let grants = self.grants_of(actor)?;
        let def = self
            .store
            .definition(actor.tenant_id, definition_id)?
            .ok_or_else(|| Error::not_found("workflow definition", definition_id))?;
        self.create_in(actor, &grants, &def, &cmd)
    }

    fn create_in(
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
            match rules::decide_create(&ctx, def, cmd, &facts, ids, &upload_ids)? {
                Created::Existing(run) => return Ok(*run),
                Created::New(t) => {
                    let RunWrite::Put(run) = &t.write else {
                        return Err(Error::Internal("create decided a deletion".into()));
                    };
                    let run = (**run).clone();
                    if self.commit(None, run.id, tenant, *t, actor.into(), now)? {
                        return Ok(run);
                    }
                }
            }
        }
        Err(Self::contention())
    }

    /// Loads a run and checks `rule` (a read-only decision) for `actor`.
    fn read_as(
        &self,
        actor: &Actor,
        run_id: RunId,
        rule: impl FnOnce(&Ctx<'_>, &Run, &Definition) -> Result<()>,
    ) -> Result<(Run, Definition, Vec<Grant>)> {
        let grants = self.grants_of(actor)?;
        let run = self
            .store
            .load_run(actor.tenant_id, run_id)?
            .ok_or_else(|| Error::not_found("workflow run", run_id))?;
        let def = self.definition_of(&run)?;
        let ctx = Ctx {
            actor,
            grants: &grants,
            now: self.clock.now(),
            grace: self.config.grace,
        };
        rule(&ctx, &run, &def)?;
        Ok((run, def, grants))
    }

    /// Get a run (GET-1).
    pub fn get_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        Ok(self.read_as(actor, run_id, rules::decide_get)?.0)
    }

    /// The thread gate (THREAD-1): `Ok` when a new USER message may be posted on the run's thread.
    pub fn check_thread_message(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        Ok(self.read_as(actor, run_id, rules::decide_thread_message)?.0)
    }

    /// Edit a draft run (UPDATE-1..5).
    pub fn update_run(&self, actor: &Actor, run_id: RunId, cmd: UpdateRun) -> Result<Run> {
        cmd.validate()?;
        let tenant = actor.tenant_id;
        let scope = cmd
            .input_scope
            .as_ref()
            .map(|s| self.resolve_all(tenant, s))
            .transpose()?;
        self.on_run_as(actor, run_id, |ctx, run, def| {
            let renaming = cmd.name.as_ref().is_some_and(|n| *n != run.name);
            let mut facts = UpdateFacts {
                scope: scope.clone(),
                ..UpdateFacts::default()
            };
            if renaming
                && run.execution_state == ExecutionState::NotStarted
                && policy::run_access(ctx.actor, ctx.grants, run, def).manage
            {
                let name = cmd.name.as_deref().unwrap_or_default();
                facts.name_taken = self
                    .store
                    .run_id_by_name(tenant, run.definition_id, name)?
                    .is_some();
                facts.folder = Some(self.folder(run, run.id.into())?);
                facts.subtree = self.store.descendants(tenant, run.id.into())?;
            }
            rules::decide_update(ctx, run, def, &cmd, &facts)
        })
    }

    /// Start a draft run (START-1..8).
    pub fn start_run(&self, actor: &Actor, run_id: RunId, cmd: StartRun) -> Result<Run> {
        cmd.validate()?;
        self.on_run_as(actor, run_id, |ctx, run, def| {
            let facts = if run.execution_state == ExecutionState::NotStarted {
                self.start_facts(run, def)?
            } else {
                StartFacts::default()
            };
            rules::decide_start(ctx, run, def, &cmd, &facts, self.ids.new_id())
        })
    }

    /// Stop a running run (STOP-1..4).
    pub fn stop_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        self.on_run_as(actor, run_id, |ctx, run, def| {
            rules::decide_stop(ctx, run, def)
        })
    }

    /// A runner's terminal report (CB-1..7).
    pub fn callback(&self, actor: &Actor, run_id: RunId, cmd: Callback) -> Result<CallbackResult> {
        cmd.validate()?;
        let grants = self.grants_of(actor)?;
        let grace = self.config.grace;
        let (run, outcome) =
            self.on_run(actor.tenant_id, run_id, actor.into(), |run, def, now| {
                let ctx = Ctx {
                    actor,
                    grants: &grants,
                    now,
                    grace,
                };
                let (d, outcome) = rules::decide_callback(&ctx, run, def, &cmd)?;
                Ok((into_step(d), outcome))
            })?;
        Ok(CallbackResult {
            outcome,
            run: run.ok_or_else(|| Error::Internal("run vanished".into()))?,
        })
    }

    /// Retry a failed run in place (RETRY-1..3).
    pub fn retry_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        self.on_run_as(actor, run_id, |ctx, run, def| {
            rules::decide_retry(ctx, run, def)
        })
    }

    /// Clone a started run into a new draft (CLONE-1..4).
    pub fn clone_run(&self, actor: &Actor, run_id: RunId, cmd: CloneRun) -> Result<Run> {
        let mut create = None;
        let (_, def, grants) = self.read_as(actor, run_id, |ctx, source, def| {
            create = Some(rules::decide_clone(ctx, source, def, cmd)?);
            Ok(())
        })?;
        let create = create.ok_or_else(|| Error::Internal("clone decided nothing".into()))?;
        self.create_in(actor, &grants, &def, &create)
    }

    /// Approve a completed run and its outputs (APPROVE-1..5).
    pub fn approve_run(&self, actor: &Actor, run_id: RunId, cmd: Approve) -> Result<Run> {
        cmd.validate()?;
        self.on_run_as(actor, run_id, |ctx, run, def| {
            let outputs = if run.execution_state == ExecutionState::Completed {
                self.documents_in(run.tenant_id, run.folders.outputs_id)?
            } else {
                Vec::new()
            };
            rules::decide_approve(ctx, run, def, &cmd, &outputs)
        })
    }

    /// Delete a run and its folder (DELETE-1..3). Its history stays readable.
    pub fn delete_run(&self, actor: &Actor, run_id: RunId) -> Result<()> {
        let grants = self.grants_of(actor)?;
        let grace = self.config.grace;
        self.on_run(actor.tenant_id, run_id, actor.into(), |run, def, now| {
            let ctx = Ctx {
                actor,
                grants: &grants,
                now,
                grace,
            };
            let subtree = if policy::run_access(actor, &grants, run, def).manage {
                self.store.descendants(run.tenant_id, run.id.into())?
            } else {
                Vec::new()
            };
            Ok((Some(rules::decide_delete(&ctx, run, def, &subtree)?), ()))
        })?;
        Ok(())
    }

    /// Add an upload to a draft run's `inputs/` (SYNC-1 when it is not yet ingested). Returns
    /// the run and the new DOCUMENT (its active version is its only child).
    pub fn add_upload(
        &self,
        actor: &Actor,
        run_id: RunId,
        upload: NewUpload,
    ) -> Result<(Run, PathPart)> {
        let grants = self.grants_of(actor)?;
        let grace = self.config.grace;
        let (run, doc) = self.on_run(actor.tenant_id, run_id, actor.into(), |run, def, now| {
            let ctx = Ctx {
                actor,
                grants: &grants,
                now,
                grace,
            };
            let inputs = self.folder(run, run.folders.inputs_id)?;
            let existing: Vec<(String, Ingestion)> = self
                .upload_statuses(run)?
                .into_iter()
                .map(|(n, i, _)| (n, i))
                .collect();
            let ids = (self.ids.new_id(), self.ids.new_id());
            let (t, doc) =
                rules::decide_add_upload(&ctx, run, def, &upload, &inputs, &existing, ids)?;
            Ok((Some(t), doc))
        })?;
        Ok((
            run.ok_or_else(|| Error::Internal("run vanished".into()))?,
            doc,
        ))
    }

    /// A folder of `run`, read after the run was loaded. A Delete that committed in between
    /// removed it: then the run is gone and the answer is `not_found` (the Delete came first,
    /// CONC-1), not a corrupt store.
    fn folder(&self, run: &Run, id: PathPartId) -> Result<PathPart> {
        if let Some(folder) = self.store.path_part(run.tenant_id, id)? {
            return Ok(folder);
        }
        if self.store.load_run(run.tenant_id, run.id)?.is_none() {
            return Err(Error::not_found("workflow run", run.id));
        }
        Err(Error::Store(StoreError::corrupt(format!(
            "folder {id} of run {} missing",
            run.id
        ))))
    }

    /// The host reports a new ingestion status of an upload's version; applies SYNC-1..4
    /// (auto-start runs as the triggerer). Returns the run as it now stands.
    pub fn set_upload_ingestion(
        &self,
        tenant: TenantId,
        version_id: PathPartId,
        status: Ingestion,
    ) -> Result<Run> {
        let version = self
            .store
            .path_part(tenant, version_id)?
            .filter(|p| p.kind == PathPartKind::DocumentVersion)
            .ok_or_else(|| Error::not_found("document version", version_id))?;
        let doc = version
            .parent_id
            .map(|d| self.store.path_part(tenant, d))
            .transpose()?
            .flatten()
            .ok_or_else(|| Error::not_found("document", version_id))?;
        let inputs = doc
            .parent_id
            .map(|d| self.store.path_part(tenant, d))
            .transpose()?
            .flatten()
            .ok_or_else(|| Error::not_found("run upload", version_id))?;
        let run_id = RunId(
            inputs
                .parent_id
                .ok_or_else(|| Error::not_found("run upload", version_id))?
                .0,
        );
        let grace = self.config.grace;
        let (run, ()) = self.on_run(tenant, run_id, ActorStamp::SYSTEM, |run, def, now| {
            if run.folders.inputs_id != inputs.id {
                return Err(Error::not_found("run upload", version_id));
            }
            let current = self
                .store
                .path_part(tenant, version_id)?
                .ok_or_else(|| Error::not_found("document version", version_id))?;
            if current.version.as_ref().map(|v| v.ingestion) == Some(status) {
                return Ok((None, ()));
            }
            let statuses = self
                .upload_statuses(run)?
                .into_iter()
                .map(|(n, i, vid)| (n, if vid == version_id { status } else { i }))
                .collect();
            let triggerer = self.store.user(tenant, run.triggered_by)?;
            let actor = triggerer.as_ref().map(Actor::of).unwrap_or(Actor::new(
                tenant,
                run.triggered_by,
                Role::User,
            ));
            let grants = triggerer.map(|u| u.grants).unwrap_or_default();
            let wants_start = run.execution_state == ExecutionState::Pending && run.auto_start;
            let start = if wants_start {
                let mut s = self.start_facts(run, def)?;
                for u in &mut s.uploads {
                    if let Some(v) = u.active_version.as_mut().filter(|v| v.id == version_id) {
                        v.version = Some(VersionInfo {
                            ingestion: status,
                            active: true,
                        });
                    }
                }
                s
            } else {
                StartFacts::default()
            };
            let facts = IngestionFacts {
                version: current,
                statuses,
                start,
            };
            let ctx = Ctx {
                actor: &actor,
                grants: &grants,
                now,
                grace,
            };
            Ok((
                Some(rules::decide_ingestion(
                    &ctx,
                    run,
                    def,
                    status,
                    &facts,
                    self.ids.new_id(),
                )?),
                (),
            ))
        })?;
        run.ok_or_else(|| Error::Internal("run vanished".into()))
    }

    /// A runner writes an output document into `outputs/` of an IN_PROGRESS run.
    pub fn add_output(&self, actor: &Actor, run_id: RunId, name: &str) -> Result<PathPart> {
        let grants = self.grants_of(actor)?;
        let grace = self.config.grace;
        let (_, doc) = self.on_run(actor.tenant_id, run_id, actor.into(), |run, def, now| {
            let ctx = Ctx {
                actor,
                grants: &grants,
                now,
                grace,
            };
            let outputs = self.folder(run, run.folders.outputs_id)?;
            let existing = self.documents_in(run.tenant_id, outputs.id)?;
            let ids = (self.ids.new_id(), self.ids.new_id());
            let (t, doc) =
                rules::decide_add_output(&ctx, run, def, name, &outputs, &existing, ids)?;
            Ok((Some(t), doc))
        })?;
        Ok(doc)
    }

    /// List runs (LIST-1): only runs the actor can read.
    pub fn list_runs(&self, actor: &Actor, q: ListRuns) -> Result<Page<Run>> {
        if !(1..=100).contains(&q.limit) {
            return Err(Error::invalid("limit", "must be 1..=100"));
        }
        let grants = self.grants_of(actor)?;
        let tenant = actor.tenant_id;
        if let Some(d) = q.definition_id {
            let def = self.store.definition(tenant, d)?;
            let readable =
                def.is_some_and(|def| policy::can_read_path(actor, &grants, tenant, &def.path));
            if !readable {
                return Err(Error::not_found("workflow definition", d));
            }
        }
        let visibility = if actor.role.is_admin() {
            Visibility::All
        } else {
            Visibility::Only {
                definition_ids: self
                    .store
                    .definitions(tenant)?
                    .into_iter()
                    .filter(|d| policy::can_read_path(actor, &grants, tenant, &d.path))
                    .map(|d| d.id)
                    .collect(),
                or_triggered_by: actor.user_id,
            }
        };
        Ok(self.store.list_runs(&RunQuery {
            tenant_id: tenant,
            definition_id: q.definition_id,
            execution_state: q.execution_state,
            approval_state: q.approval_state,
            triggered_by: q.mine.then_some(actor.user_id),
            visibility,
            order: q.order,
            limit: q.limit,
            offset: q.offset,
        })?)
    }

    /// The transition history of a run, also after its deletion (AUDIT-1, DELETE-3). A host
    /// call: it checks no actor.
    pub fn history(&self, tenant: TenantId, run_id: RunId) -> Result<Vec<HistoryRecord>> {
        Ok(self.store.history(tenant, run_id)?)
    }

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
                Ok(match rules::decide_reap(now, run) {
                    Decision::Write(t) => (Some(*t), true),
                    Decision::Unchanged => (None, false),
                })
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

    // --------------------------------------------------------------------------------- catalog

    /// Insert or replace a tenant.
    pub fn put_tenant(&self, tenant: Tenant) -> Result<()> {
        Ok(self.store.apply_catalog(&[CatalogWrite::Tenant(tenant)])?)
    }

    /// Insert or replace a user and its grants.
    pub fn put_user(&self, user: User) -> Result<()> {
        for g in &user.grants {
            if !g.path.starts_with('/') {
                return Err(Error::invalid("grants.path", "must start with '/'"));
            }
        }
        Ok(self.store.apply_catalog(&[CatalogWrite::User(user)])?)
    }

    /// Insert or replace a knowledge-base node (folder, document, connector) under `parent`.
    /// Keeps the creation time of an existing node, so that writing the same node twice changes
    /// nothing.
    pub fn put_part(
        &self,
        tenant: TenantId,
        id: PathPartId,
        kind: PathPartKind,
        name: &str,
        parent: Option<PathPartId>,
    ) -> Result<PathPart> {
        validate_name("name", name)?;
        if matches!(
            kind,
            PathPartKind::DocumentVersion
                | PathPartKind::WorkflowDefinition
                | PathPartKind::WorkflowRun
        ) {
            return Err(Error::invalid(
                "kind",
                format!("{kind} parts are made by their own calls"),
            ));
        }
        let part = self.new_part(tenant, id, kind, name, parent)?;
        self.store
            .apply_catalog(&[CatalogWrite::PutPart(Box::new(part.clone()))])?;
        Ok(part)
    }

    fn new_part(
        &self,
        tenant: TenantId,
        id: PathPartId,
        kind: PathPartKind,
        name: &str,
        parent: Option<PathPartId>,
    ) -> Result<PathPart> {
        let parent = match parent {
            Some(p) => Some(
                self.store
                    .path_part(tenant, p)?
                    .ok_or_else(|| Error::not_found("path part", p))?,
            ),
            None => None,
        };
        let now = match self.store.path_part(tenant, id)? {
            Some(existing) => existing.created_at,
            None => self.clock.now(),
        };
        Ok(PathPart::new(id, tenant, kind, name, parent.as_ref(), now))
    }

    /// Insert or replace a version of a DOCUMENT. Making it active deactivates the others.
    pub fn put_version(
        &self,
        tenant: TenantId,
        document: PathPartId,
        id: PathPartId,
        ingestion: Ingestion,
        active: bool,
    ) -> Result<PathPart> {
        let doc = self
            .store
            .path_part(tenant, document)?
            .filter(|d| d.kind == PathPartKind::Document)
            .ok_or_else(|| Error::not_found("document", document))?;
        let mut writes = Vec::new();
        if active {
            for mut other in self.store.children(tenant, doc.id)? {
                if other.id != id && other.version.as_ref().is_some_and(|v| v.active) {
                    if let Some(v) = other.version.as_mut() {
                        v.active = false;
                    }
                    writes.push(CatalogWrite::PutPart(Box::new(other)));
                }
            }
        }
        let mut part = self.new_part(
            tenant,
            id,
            PathPartKind::DocumentVersion,
            &id.to_string(),
            Some(doc.id),
        )?;
        part.version = Some(VersionInfo { ingestion, active });
        writes.push(CatalogWrite::PutPart(Box::new(part.clone())));
        self.store.apply_catalog(&writes)?;
        Ok(part)
    }

    /// Create (or, with the same id, replace) a workflow definition. OWNER/ADMIN, or a USER with
    /// a read-write grant covering the parent folder.
    pub fn create_definition(&self, actor: &Actor, d: NewDefinition) -> Result<Definition> {
        validate_name("name", &d.name)?;
        let max = d
            .max_run_duration_seconds
            .unwrap_or(DEFAULT_MAX_RUN_DURATION_SECONDS);
        if !(60..=7200).contains(&max) {
            return Err(Error::invalid(
                "max_run_duration_seconds",
                "must be 60..=7200",
            ));
        }
        let tenant = actor.tenant_id;
        let grants = self.grants_of(actor)?;
        let parent = self
            .store
            .path_part(tenant, d.parent_id)?
            .filter(|p| policy::can_read_path(actor, &grants, tenant, &p.path))
            .ok_or_else(|| Error::not_found("folder", d.parent_id))?;
        if parent.kind != PathPartKind::Folder {
            return Err(Error::invalid("parent_id", "must be a FOLDER"));
        }
        if !policy::can_write_path(actor, &grants, tenant, &parent.path) {
            return Err(Error::forbidden(
                "creating a definition needs write access to its folder",
            ));
        }
        if let Some(i) = d.instruction_id {
            let doc = self
                .store
                .path_part(tenant, i)?
                .ok_or_else(|| Error::not_found("path part", i))?;
            if doc.kind != PathPartKind::Document {
                return Err(Error::invalid("instruction_id", "must be a DOCUMENT"));
            }
        }
        let id = d.id.unwrap_or_else(|| DefinitionId(self.ids.new_id()));
        if let Some(clash) = self
            .store
            .children(tenant, parent.id)?
            .into_iter()
            .find(|c| c.name == d.name)
        {
            if clash.id != PathPartId::from(id) {
                return Err(Error::conflict(
                    None,
                    format!("{} already has {:?}", parent.path, d.name),
                ));
            }
        }
        let existing = self.store.definition(tenant, id)?;
        let created_at = existing
            .as_ref()
            .map_or_else(|| self.clock.now(), |e| e.created_at);
        let def_part = PathPart::new(
            id.into(),
            tenant,
            PathPartKind::WorkflowDefinition,
            &d.name,
            Some(&parent),
            created_at,
        );
        let runs_id = PathPartId(Uuid::new_v5(&id.0, b"runs"));
        let runs = PathPart::new(
            runs_id,
            tenant,
            PathPartKind::Folder,
            "runs",
            Some(&def_part),
            created_at,
        );
        let instruction = (d.instruction_id.is_none() && d.create_empty_instruction).then(|| {
            PathPart::new(
                PathPartId(Uuid::new_v5(&id.0, b"instruction.md")),
                tenant,
                PathPartKind::Document,
                "instruction.md",
                Some(&def_part),
                created_at,
            )
        });
        let def = Definition {
            id,
            tenant_id: tenant,
            parent_id: parent.id,
            path: def_part.path.clone(),
            runs_folder_id: runs_id,
            name: d.name,
            instruction_id: d.instruction_id.or(instruction.as_ref().map(|p| p.id)),
            max_run_duration_seconds: max,
            approval_required: d.approval_required,
            is_active: d.is_active,
            is_template: d.is_template,
            common_file_ids: d.common_file_ids,
            selected_skill_ids: d.selected_skill_ids,
            owner_id: existing.map_or(actor.user_id, |e| e.owner_id),
            created_at,
        };
        let mut writes = vec![
            CatalogWrite::PutPart(Box::new(def_part)),
            CatalogWrite::PutPart(Box::new(runs)),
        ];
        writes.extend(instruction.map(|p| CatalogWrite::PutPart(Box::new(p))));
        writes.push(CatalogWrite::Definition(Box::new(def.clone())));
        self.store.apply_catalog(&writes)?;
        Ok(def)
    }

    /// Get a definition the actor can read.
    pub fn get_definition(&self, actor: &Actor, id: DefinitionId) -> Result<Definition> {
        let grants = self.grants_of(actor)?;
        self.store
            .definition(actor.tenant_id, id)?
            .filter(|d| policy::can_read_path(actor, &grants, actor.tenant_id, &d.path))
            .ok_or_else(|| Error::not_found("workflow definition", id))
    }

    /// The grant an actor holds on a path, for hosts rendering permissions.
    pub fn capability_on(&self, actor: &Actor, path: &str) -> Result<Option<Capability>> {
        if actor.role.is_admin() {
            return Ok(Some(Capability::ReadWrite));
        }
        Ok(policy::capability_on(&self.grants_of(actor)?, path))
    }
}

fn into_step(d: Decision) -> Option<Transition> {
    match d {
        Decision::Unchanged => None,
        Decision::Write(t) => Some(*t),
    }
}

/// Events that end an attempt (a terminal write).
pub fn is_terminal_event(e: Event) -> bool {
    matches!(
        e,
        Event::Completed | Event::Failed | Event::Stopped | Event::TimedOut
    )
}
