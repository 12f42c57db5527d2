//! One method per run operation of SPEC section 3: read the facts the rule needs, decide, commit.

use super::commit::live;
use super::{CallbackResult, Engine};
use crate::error::{Error, Result};
use crate::ids::{DefinitionId, PathPartId, RunId, TenantId, UserId};
use crate::model::{
    Actor, ActorStamp, ApprovalState, ExecutionState, HistoryRecord, Ingestion, Page, PathPart,
    PathPartKind, Run, RunOrder, SortDir, TimeRange,
};
use crate::policy;
use crate::rules::{
    self, Approve, Callback, CloneRun, CreateRun, IngestionFacts, NewUpload, StartRun, UpdateFacts,
    UpdateRun,
};
use crate::snapshot::StartFacts;
use crate::store::{RunQuery, Store, Visibility};
use uuid::Uuid;

/// Input of List (LIST-1, LIST-2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRuns {
    /// One definition, or the whole tenant.
    pub definition_id: Option<DefinitionId>,
    /// Any of these execution states; empty: all.
    pub states: Vec<ExecutionState>,
    /// Any of these approval states; empty: all.
    pub approval_states: Vec<ApprovalState>,
    /// Only runs the actor triggered (overrides `owner_id`).
    pub mine: bool,
    /// Only runs this user triggered (among those the actor can read).
    pub owner_id: Option<UserId>,
    /// Only runs the actor may approve (APPROVE-5).
    pub approvable_by_me: bool,
    /// `created_at` window.
    pub created: TimeRange,
    /// `updated_at` window.
    pub updated: TimeRange,
    /// Only runs carrying one of these tags: no run carries a tag, so a non-empty list gives an
    /// empty page.
    pub include_tag_ids: Vec<Uuid>,
    /// Sort key.
    pub order: RunOrder,
    /// Direction.
    pub dir: SortDir,
    /// 1..=100.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

impl Default for ListRuns {
    fn default() -> Self {
        ListRuns {
            definition_id: None,
            states: Vec::new(),
            approval_states: Vec::new(),
            mine: false,
            owner_id: None,
            approvable_by_me: false,
            created: TimeRange::default(),
            updated: TimeRange::default(),
            include_tag_ids: Vec::new(),
            order: RunOrder::CreatedAt,
            dir: SortDir::Desc,
            limit: 20,
            offset: 0,
        }
    }
}

/// What an actor can read: the store's visibility filter, and the tenant's definitions when
/// they were read.
pub(super) struct ReadScope {
    pub(super) visibility: Visibility,
    pub(super) definitions: Vec<crate::model::Definition>,
}

impl<S: Store> Engine<S> {
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

    /// Get a run (GET-1).
    pub fn get_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        Ok(self.read_as(actor, run_id, rules::decide_get)?.0)
    }

    /// The thread gate (THREAD-1): `Ok` when a new USER message may be posted on the run's thread.
    pub fn check_thread_message(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        Ok(self.read_as(actor, run_id, rules::decide_thread_message)?.0)
    }

    /// Edit a draft run (UPDATE-1..7); arming auto-start on an ingested draft starts it.
    pub fn update_run(&self, actor: &Actor, run_id: RunId, cmd: UpdateRun) -> Result<Run> {
        cmd.validate()?;
        let tenant = actor.tenant_id;
        let scope = cmd
            .input_scope
            .as_ref()
            .map(|s| self.resolve_all(tenant, s))
            .transpose()?;
        let (run, ()) = self.on_run_as(actor, run_id, |ctx, run, def| {
            let needs = rules::update_needs(ctx, run, def, &cmd)?;
            let mut facts = UpdateFacts {
                scope: scope.clone(),
                ..UpdateFacts::default()
            };
            if let (true, Some(name)) = (needs.rename, cmd.name.as_deref()) {
                facts.name_taken = self
                    .store
                    .run_id_by_name(tenant, run.definition_id, name)?
                    .is_some();
                facts.folder = Some(self.folder(run, run.id.into())?);
                facts.subtree = self.store.descendants(tenant, run.id.into())?;
            }
            if needs.start {
                facts.start = self.start_facts(run, def)?;
                facts.thread_id = self.ids.new_id();
            }
            rules::decide_update(ctx, run, def, &cmd, &facts)
        })?;
        live(run)
    }

    /// Start a draft run (START-1..8).
    pub fn start_run(&self, actor: &Actor, run_id: RunId, cmd: StartRun) -> Result<Run> {
        cmd.validate()?;
        let (run, ()) = self.on_run_as(actor, run_id, |ctx, run, def| {
            let facts = if rules::start_needs_facts(ctx, run, def, &cmd)? {
                self.start_facts(run, def)?
            } else {
                StartFacts::default()
            };
            rules::decide_start(ctx, run, def, &cmd, &facts, self.ids.new_id())
        })?;
        live(run)
    }

    /// Stop a running run (STOP-1..4).
    pub fn stop_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        live(self.on_run_as(actor, run_id, rules::decide_stop)?.0)
    }

    /// A runner's terminal report (CB-1..7).
    pub fn callback(&self, actor: &Actor, run_id: RunId, cmd: Callback) -> Result<CallbackResult> {
        cmd.validate()?;
        let (run, outcome) = self.on_run_as(actor, run_id, |ctx, run, def| {
            rules::decide_callback(ctx, run, def, &cmd)
        })?;
        Ok(CallbackResult {
            outcome,
            run: live(run)?,
        })
    }

    /// Retry a failed run in place (RETRY-1..3).
    pub fn retry_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        live(self.on_run_as(actor, run_id, rules::decide_retry)?.0)
    }

    /// Resume a failed run from its surviving thread (RESUME-1): a new attempt whose dispatch
    /// says `resume: true`.
    pub fn resume_run(&self, actor: &Actor, run_id: RunId) -> Result<Run> {
        live(self.on_run_as(actor, run_id, rules::decide_resume)?.0)
    }

    /// Clone a started run into a new draft (CLONE-1..4).
    pub fn clone_run(&self, actor: &Actor, run_id: RunId, cmd: CloneRun) -> Result<Run> {
        let (_, def, grants, create) = self.read_as(actor, run_id, |ctx, source, def| {
            rules::decide_clone(ctx, source, def, cmd)
        })?;
        self.create_in(actor, &grants, &def, &create)
    }

    /// Approve a completed run and its outputs (APPROVE-1..5).
    pub fn approve_run(&self, actor: &Actor, run_id: RunId, cmd: Approve) -> Result<Run> {
        cmd.validate()?;
        let (run, ()) = self.on_run_as(actor, run_id, |ctx, run, def| {
            let outputs = if rules::approve_needs_outputs(run) {
                self.documents_in(run.tenant_id, run.folders.outputs_id)?
            } else {
                Vec::new()
            };
            rules::decide_approve(ctx, run, def, &cmd, &outputs)
        })?;
        live(run)
    }

    /// Delete a run and its folder (DELETE-1..3). Its history stays readable.
    pub fn delete_run(&self, actor: &Actor, run_id: RunId) -> Result<()> {
        self.on_run_as(actor, run_id, |ctx, run, def| {
            rules::check_delete(ctx, run, def)?;
            let subtree = self.store.descendants(run.tenant_id, run.id.into())?;
            rules::decide_delete(ctx, run, def, &subtree)
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
        let (run, doc) = self.on_run_as(actor, run_id, |ctx, run, def| {
            let inputs = self.folder(run, run.folders.inputs_id)?;
            let existing = self.upload_statuses(run)?;
            let ids = (self.ids.new_id(), self.ids.new_id());
            rules::decide_add_upload(ctx, run, def, &upload, &inputs, &existing, ids)
        })?;
        Ok((live(run)?, doc))
    }

    /// The host reports a new ingestion status of an upload's version; applies SYNC-1..4
    /// (auto-start runs as the triggerer). Returns the run as it now stands.
    pub fn set_upload_ingestion(
        &self,
        tenant: TenantId,
        version_id: PathPartId,
        status: Ingestion,
    ) -> Result<Run> {
        let run_id = self.run_of_upload(tenant, version_id)?;
        let grace = self.config.grace;
        let (run, ()) = self.on_run(tenant, run_id, ActorStamp::SYSTEM, |run, def, now| {
            let version = self
                .store
                .path_part(tenant, version_id)?
                .ok_or_else(|| Error::not_found("document version", version_id))?;
            let facts = IngestionFacts {
                version,
                uploads: self.upload_statuses(run)?,
                start: if rules::ingestion_wants_start(run) {
                    self.start_facts(run, def)?
                } else {
                    StartFacts::default()
                },
                triggerer: self.store.user(tenant, run.triggered_by)?,
            };
            let thread = self.ids.new_id();
            rules::decide_ingestion(now, grace, run, def, status, &facts, thread)
        })?;
        live(run)
    }

    /// The run whose `inputs/` holds the document of version `version_id`.
    fn run_of_upload(&self, tenant: TenantId, version_id: PathPartId) -> Result<RunId> {
        let not_found = || Error::not_found("run upload", version_id);
        let version = self
            .store
            .path_part(tenant, version_id)?
            .filter(|p| p.kind == PathPartKind::DocumentVersion)
            .ok_or_else(|| Error::not_found("document version", version_id))?;
        let parent = |p: &PathPart| -> Result<Option<PathPart>> {
            Ok(match p.parent_id {
                Some(id) => self.store.path_part(tenant, id)?,
                None => None,
            })
        };
        let doc = parent(&version)?.ok_or_else(not_found)?;
        let inputs = parent(&doc)?.ok_or_else(not_found)?;
        let run_id = RunId(inputs.parent_id.ok_or_else(not_found)?.0);
        let run = self.store.load_run(tenant, run_id)?.ok_or_else(not_found)?;
        if run.folders.inputs_id != inputs.id {
            return Err(not_found());
        }
        Ok(run_id)
    }

    /// A runner writes an output document into `outputs/` of an IN_PROGRESS run.
    pub fn add_output(&self, actor: &Actor, run_id: RunId, name: &str) -> Result<PathPart> {
        self.add_output_of(actor, run_id, None, name)
    }

    /// [`Engine::add_output`] by the runner of `attempt` (a callback token's): refused with
    /// `conflict` once the run moved on to another attempt, decided in the same
    /// load → decide → commit as the write, so a racing retry cannot slip in between.
    pub fn add_output_of(
        &self,
        actor: &Actor,
        run_id: RunId,
        attempt: Option<u32>,
        name: &str,
    ) -> Result<PathPart> {
        let (_, doc) = self.on_run_as(actor, run_id, |ctx, run, def| {
            rules::check_output_attempt(run, attempt)?;
            let outputs = self.folder(run, run.folders.outputs_id)?;
            let existing = self.documents_in(run.tenant_id, outputs.id)?;
            let ids = (self.ids.new_id(), self.ids.new_id());
            rules::decide_add_output(ctx, run, def, name, &outputs, &existing, ids)
        })?;
        Ok(doc)
    }

    /// List runs (LIST-1, LIST-2): only runs the actor can read; every filter is answered by
    /// the store's query (LIST-3).
    pub fn list_runs(&self, actor: &Actor, q: ListRuns) -> Result<Page<Run>> {
        if !(1..=100).contains(&q.limit) {
            return Err(Error::invalid("limit", "must be 1..=100"));
        }
        let grants = self.grants_of(actor)?;
        let tenant = actor.tenant_id;
        let scope = self.read_scope(actor, &grants, q.definition_id, q.approvable_by_me)?;
        if !q.include_tag_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
                limit: q.limit,
                offset: q.offset,
            });
        }
        let definitions = &scope.definitions;
        let visibility = scope.visibility;
        let within = if q.approvable_by_me {
            policy::approvable_runs(actor, &grants, definitions)
        } else {
            None
        };
        Ok(self.store.list_runs(&RunQuery {
            tenant_id: tenant,
            definition_id: q.definition_id,
            states: q.states,
            approval_states: q.approval_states,
            triggered_by: if q.mine {
                Some(actor.user_id)
            } else {
                q.owner_id
            },
            created: q.created,
            updated: q.updated,
            within,
            visibility,
            order: q.order,
            dir: q.dir,
            limit: q.limit,
            offset: q.offset,
        })?)
    }

    /// Who can read what, for the listings and the summary: `not_found` for an unreadable
    /// `definition_id` (VIS-1); visibility as the actor's grant paths (the store matches them
    /// against definition paths); the definitions of the tenant are read only when
    /// `with_definitions`.
    pub(super) fn read_scope(
        &self,
        actor: &Actor,
        grants: &[crate::model::Grant],
        definition_id: Option<DefinitionId>,
        with_definitions: bool,
    ) -> Result<ReadScope> {
        let tenant = actor.tenant_id;
        if let Some(d) = definition_id {
            let def = self.store.definition(tenant, d)?;
            let readable =
                def.is_some_and(|def| policy::can_read_path(actor, grants, tenant, &def.path));
            if !readable {
                return Err(Error::not_found("workflow definition", d));
            }
        }
        let definitions = if with_definitions {
            self.store.definitions(tenant)?
        } else {
            Vec::new()
        };
        let visibility = Visibility::of(actor, grants);
        Ok(ReadScope {
            visibility,
            definitions,
        })
    }

    /// The transition history of a run, also after its deletion (AUDIT-1, DELETE-3). A host
    /// call: it checks no actor.
    pub fn history(&self, tenant: TenantId, run_id: RunId) -> Result<Vec<HistoryRecord>> {
        Ok(self.store.history(tenant, run_id)?)
    }
}
