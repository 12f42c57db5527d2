//! The catalog reads the rules need: references resolved, uploads and their statuses, folders.

use super::Engine;
use crate::error::{Error, Result, StoreError};
use crate::ids::{PathPartId, TenantId};
use crate::model::{Definition, PathPart, PathPartKind, Run};
use crate::rules::UploadStatus;
use crate::snapshot::{Resolved, StartFacts};
use crate::store::Store;

impl<S: Store> Engine<S> {
    pub(super) fn definition_of(&self, run: &Run) -> Result<Definition> {
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

    pub(super) fn resolve_all(
        &self,
        tenant: TenantId,
        ids: &[PathPartId],
    ) -> Result<Vec<Resolved>> {
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

    pub(super) fn start_facts(&self, run: &Run, def: &Definition) -> Result<StartFacts> {
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

    /// Every upload of `run` with an active version, and that version's status.
    pub(super) fn upload_statuses(&self, run: &Run) -> Result<Vec<UploadStatus>> {
        let mut out = Vec::new();
        for d in self.documents_in(run.tenant_id, run.folders.inputs_id)? {
            let active = self.active_version(run.tenant_id, d.id)?;
            if let Some((ingestion, version_id)) =
                active.and_then(|v| v.version.map(|i| (i.ingestion, v.id)))
            {
                out.push(UploadStatus {
                    name: d.name,
                    version_id,
                    ingestion,
                });
            }
        }
        Ok(out)
    }

    /// A folder of `run`, read after the run was loaded. A Delete that committed in between
    /// removed it: then the run is gone and the answer is `not_found` (the Delete came first,
    /// CONC-1), not a corrupt store.
    pub(super) fn folder(&self, run: &Run, id: PathPartId) -> Result<PathPart> {
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
}
