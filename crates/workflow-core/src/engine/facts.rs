//! The catalog reads the rules need: references resolved, uploads and their statuses, folders.

use super::Engine;
use crate::error::{Error, Result, StoreError};
use crate::ids::{PathPartId, RunId, TenantId};
use crate::model::{Definition, PathPart, PathPartKind, Run};
use crate::rules::UploadStatus;
use crate::snapshot::{active_version_of, resolve_part, Resolved, StartFacts};
use crate::store::Store;

impl<S: Store> Engine<S> {
    /// A live run and its definition, read together (`Store::load_run_with_definition`).
    pub(super) fn run_and_definition(
        &self,
        tenant: TenantId,
        run_id: RunId,
    ) -> Result<(Run, Definition)> {
        let (run, def) = self
            .store
            .load_run_with_definition(tenant, run_id)?
            .ok_or_else(|| Error::not_found("workflow run", run_id))?;
        let def = def.ok_or_else(|| missing_definition(&run))?;
        Ok((run, def))
    }

    fn active_version(&self, tenant: TenantId, doc: PathPartId) -> Result<Option<PathPart>> {
        Ok(active_version_of(&self.store, tenant, doc)?)
    }

    pub(super) fn resolve_all(
        &self,
        tenant: TenantId,
        ids: &[PathPartId],
    ) -> Result<Vec<Resolved>> {
        ids.iter()
            .map(|id| Ok(resolve_part(&self.store, tenant, *id)?))
            .collect()
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
        Ok(self.store.start_facts(run, def)?)
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

/// A run whose definition is gone: the store lost it (a definition is deleted only with its
/// runs, DEF-3).
fn missing_definition(run: &Run) -> Error {
    Error::Store(StoreError::corrupt(format!(
        "definition {} of run {} is missing",
        run.definition_id, run.id
    )))
}
