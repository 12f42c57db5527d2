//! Domain → wire. Runs on the blocking pool (it reads the store: the triggerer's name, the
//! folders' documents, the scope's parts).

use crate::handlers::Caller;
use crate::wire::{
    ExcludedCommonFile, InputSnapshot, InstructionSnapshot, ItemPermissions, LastRunSummary,
    RunFolder, RunFolderRef, UserInfo, WorkflowDefinitionResponse, WorkflowRunAsset,
    WorkflowRunResponse, WorkflowRunSnapshot,
};
use std::collections::HashMap;
use uuid::Uuid;
use workflow_core::policy::{can_write_path, run_access};
use workflow_core::{
    Actor, ApprovalState, Definition, DefinitionId, Engine, Grant, InputOrigin, PathPart,
    PathPartKind, Result, Run, Snapshot, Store, User, UserId,
};

/// Renders runs and definitions for one caller, caching the look-ups a page repeats.
pub(crate) struct Renderer<'a, S> {
    engine: &'a Engine<S>,
    actor: &'a Actor,
    grants: Option<Vec<Grant>>,
    users: HashMap<UserId, Option<User>>,
    definitions: HashMap<DefinitionId, Option<Definition>>,
}

impl<'a, S: Store> Renderer<'a, S> {
    /// A renderer for `caller`, seeded with the caller's own user record (its grants and name)
    /// so that rendering does not read them again.
    pub(crate) fn new(engine: &'a Engine<S>, caller: &'a Caller) -> Self {
        let grants = if caller.actor.role.is_admin() {
            Vec::new()
        } else {
            caller.user.grants.clone()
        };
        let mut users = HashMap::new();
        users.insert(caller.user.id, Some(caller.user.clone()));
        Renderer {
            engine,
            actor: &caller.actor,
            grants: Some(grants),
            users,
            definitions: HashMap::new(),
        }
    }

    fn grants(&mut self) -> Result<&[Grant]> {
        if self.grants.is_none() {
            self.grants = Some(self.engine.grants_of(self.actor)?);
        }
        Ok(self.grants.as_deref().unwrap_or_default())
    }

    fn user_info(&mut self, tenant: workflow_core::TenantId, id: UserId) -> Result<UserInfo> {
        if !self.users.contains_key(&id) {
            let u = self.engine.store().user(tenant, id)?;
            self.users.insert(id, u);
        }
        let user = self.users.get(&id).and_then(Option::as_ref);
        Ok(UserInfo {
            user_id: id.0,
            first_name: user.map(|u| u.first_name.clone()),
            last_name: user.map(|u| u.last_name.clone()),
        })
    }

    fn definition(&mut self, run: &Run) -> Result<Option<Definition>> {
        if !self.definitions.contains_key(&run.definition_id) {
            let d = self
                .engine
                .store()
                .definition(run.tenant_id, run.definition_id)?;
            self.definitions.insert(run.definition_id, d);
        }
        Ok(self.definitions.get(&run.definition_id).cloned().flatten())
    }

    /// A run as ksapi's `WorkflowRunResponse`; `permissions` only when asked (reads).
    pub(crate) fn run(&mut self, run: &Run, with_permissions: bool) -> Result<WorkflowRunResponse> {
        let tenant = run.tenant_id;
        let store = self.engine.store();
        let triggered_by = self.user_info(tenant, run.triggered_by)?;
        let def = self.definition(run)?;
        let permissions = match (&def, with_permissions) {
            (Some(def), true) => {
                let actor = self.actor;
                let access = run_access(actor, self.grants()?, run, def);
                Some(ItemPermissions {
                    can_read: access.read,
                    can_write: access.manage,
                    can_delete: access.manage,
                    can_approve: access.approve,
                })
            }
            _ => None,
        };
        // The three subfolders are named children of the run folder (SPEC section 1).
        let inputs_path = format!("{}/inputs", run.folders.path);
        let outputs_path = format!("{}/outputs", run.folders.path);
        let discussions_path = format!("{}/discussions", run.folders.path);

        let input_assets = match &run.snapshot {
            Some(s) => snapshot_assets(store, tenant, s)?,
            None => {
                let mut assets = Vec::new();
                for id in &run.input_scope {
                    if let Some(p) = store.path_part(tenant, *id)? {
                        assets.push(asset(&p, Some(InputOrigin::RunReference)));
                    }
                }
                for d in self.engine.documents_in(tenant, run.folders.inputs_id)? {
                    assets.push(asset(&d, Some(InputOrigin::RunUpload)));
                }
                assets
            }
        };
        let output_assets = self
            .engine
            .documents_in(tenant, run.folders.outputs_id)?
            .iter()
            .map(|d| asset(d, None))
            .collect();
        let excluded = run.snapshot.as_ref().map(excluded_of).unwrap_or_default();

        Ok(WorkflowRunResponse {
            part_type: "WORKFLOW_RUN".to_owned(),
            id: run.id.0,
            path_part_id: run.id.0,
            parent_path_part_id: def.as_ref().map(|d| d.runs_folder_id.0),
            materialized_path: run.folders.path.clone(),
            tenant_id: tenant.0,
            name: run.name.clone(),
            workflow_definition_id: run.definition_id.0,
            owner: Some(triggered_by.clone()),
            triggered_by,
            execution_state: run.execution_state.as_str().to_owned(),
            approval_state: run.approval_state.as_str().to_owned(),
            started_at: run.started_at,
            completed_at: run.completed_at,
            run_snapshot: run.snapshot.as_ref().map(snapshot),
            error: run.error.clone(),
            auto_start: run.auto_start,
            auto_start_user_message: run.auto_start_user_message.clone(),
            inputs: RunFolder {
                id: run.folders.inputs_id.0,
                path_part_id: run.folders.inputs_id.0,
                materialized_path: inputs_path,
                assets: input_assets,
            },
            outputs: RunFolder {
                id: run.folders.outputs_id.0,
                path_part_id: run.folders.outputs_id.0,
                materialized_path: outputs_path,
                assets: output_assets,
            },
            discussions: RunFolderRef {
                id: run.folders.discussions_id.0,
                path_part_id: run.folders.discussions_id.0,
                materialized_path: discussions_path,
            },
            excluded_common_files: excluded,
            run_thread_id: run.run_thread_id,
            created_at: run.created_at,
            updated_at: run.updated_at,
            permissions,
            attempt: run.attempt,
            version: run.version,
            input_path_part_ids: run.input_scope.iter().map(|p| p.0).collect(),
        })
    }

    /// A definition as ksapi's `WorkflowDefinitionResponse`.
    pub(crate) fn definition_response(
        &mut self,
        def: &Definition,
        with_permissions: bool,
    ) -> Result<WorkflowDefinitionResponse> {
        let owner = self.user_info(def.tenant_id, def.owner_id)?;
        let stats = self.engine.definition_stats(self.actor, def)?;
        let permissions = if with_permissions {
            let actor = self.actor;
            let write = can_write_path(actor, self.grants()?, def.tenant_id, &def.path);
            Some(ItemPermissions {
                can_read: true,
                can_write: write,
                can_delete: write,
                can_approve: write && !actor.assumed,
            })
        } else {
            None
        };
        Ok(WorkflowDefinitionResponse {
            part_type: "WORKFLOW_DEFINITION".to_owned(),
            id: def.id.0,
            path_part_id: def.id.0,
            parent_path_part_id: Some(def.parent_id.0),
            materialized_path: def.path.clone(),
            tenant_id: def.tenant_id.0,
            name: def.name.clone(),
            description: def.description.clone(),
            max_run_duration_seconds: def.max_run_duration_seconds,
            instruction_path_part_id: def.instruction_id.map_or(Uuid::nil(), |i| i.0),
            is_active: def.is_active,
            approval_required: def.approval_required,
            is_template: def.is_template,
            selected_skill_ids: def.selected_skill_ids.clone(),
            common_file_path_part_ids: def.common_file_ids.iter().map(|i| i.0).collect(),
            created_from_id: def.created_from_id.map(|d| d.0),
            copy_count: stats.copy_count,
            last_run: stats.last_run.map(|r| LastRunSummary {
                id: r.id.0,
                execution_state: r.execution_state.as_str().to_owned(),
                approval_state: r.approval_state.as_str().to_owned(),
                created_at: r.created_at,
                started_at: r.started_at,
                completed_at: r.completed_at,
                error: r.error,
            }),
            pending_approval_count: stats.pending_approval_count,
            approval_state: ApprovalState::NotRequired.as_str().to_owned(),
            owner: Some(owner),
            schedule_cadence: def.schedule.as_ref().map(|s| s.cadence.as_str().to_owned()),
            schedule_start_at: def.schedule.as_ref().map(|s| s.start_at),
            schedule_timezone: def.schedule.as_ref().map(|s| s.timezone.clone()),
            created_at: def.created_at,
            updated_at: def.updated_at,
            permissions,
        })
    }
}

/// An asset of a path part.
pub(crate) fn asset(p: &PathPart, origin: Option<InputOrigin>) -> WorkflowRunAsset {
    WorkflowRunAsset {
        id: p.id.0,
        path_part_id: p.id.0,
        name: p.name.clone(),
        part_type: p.kind.as_str().to_owned(),
        materialized_path: p.path.clone(),
        approval_state: p.approval_state.as_str().to_owned(),
        origin: origin.map(|o| o.as_str().to_owned()),
    }
}

/// The inputs of a started run, from its snapshot. Names and paths come from the pinned
/// materialized paths (a version's path is its document's path plus the version id), so only a
/// definition common file needs a read: it is surfaced as its DOCUMENT, as the Knowledge Stack
/// API does. Pinned inputs are never approved themselves (approval applies to outputs).
fn snapshot_assets<S: Store>(
    store: &S,
    tenant: workflow_core::TenantId,
    s: &Snapshot,
) -> Result<Vec<WorkflowRunAsset>> {
    let mut out = Vec::with_capacity(s.inputs.len());
    for i in &s.inputs {
        let is_version = i.part_type == PathPartKind::DocumentVersion;
        let (doc_path, last) = i
            .materialized_path
            .rsplit_once('/')
            .unwrap_or(("", i.materialized_path.as_str()));
        let name = if is_version {
            doc_path.rsplit('/').next().unwrap_or(last)
        } else {
            last
        }
        .to_owned();
        let origin = Some(i.origin.as_str().to_owned());
        let approval = ApprovalState::NotRequired.as_str().to_owned();
        let common_doc = if is_version && i.origin == InputOrigin::DefinitionCommon {
            store
                .path_part(tenant, i.path_part_id)?
                .and_then(|v| v.parent_id)
        } else {
            None
        };
        out.push(match common_doc {
            Some(doc) => WorkflowRunAsset {
                id: doc.0,
                path_part_id: doc.0,
                name,
                part_type: PathPartKind::Document.as_str().to_owned(),
                materialized_path: doc_path.to_owned(),
                approval_state: approval,
                origin,
            },
            None => WorkflowRunAsset {
                id: i.path_part_id.0,
                path_part_id: i.path_part_id.0,
                name,
                part_type: i.part_type.as_str().to_owned(),
                materialized_path: i.materialized_path.clone(),
                approval_state: approval,
                origin,
            },
        });
    }
    Ok(out)
}

fn excluded_of(s: &Snapshot) -> Vec<ExcludedCommonFile> {
    s.excluded_common_files
        .iter()
        .map(|e| ExcludedCommonFile {
            path_part_id: e.path_part_id.0,
            reason: e.reason.as_str().to_owned(),
        })
        .collect()
}

fn snapshot(s: &Snapshot) -> WorkflowRunSnapshot {
    WorkflowRunSnapshot {
        workflow_name: s.workflow_name.clone(),
        max_run_duration_seconds: s.max_run_duration_seconds,
        approval_required: s.approval_required,
        instruction: InstructionSnapshot {
            path_part_id: s.instruction.path_part_id.map_or(Uuid::nil(), |p| p.0),
            materialized_path: s.instruction.materialized_path.clone(),
            part_type: "DOCUMENT_VERSION".to_owned(),
            source_s3_uri: s.instruction.source.clone(),
        },
        inputs: s
            .inputs
            .iter()
            .map(|i| InputSnapshot {
                path_part_id: i.path_part_id.0,
                materialized_path: i.materialized_path.clone(),
                part_type: i.part_type.as_str().to_owned(),
                origin: Some(i.origin.as_str().to_owned()),
            })
            .collect(),
        excluded_common_files: excluded_of(s),
        user_message: s.user_message.clone(),
        selected_skill_ids: s.selected_skill_ids.clone(),
        created_at: s.created_at,
    }
}
