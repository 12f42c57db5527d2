//! Snapshot building (SPEC section 4) from catalog facts the engine looked up. Pure.

use crate::error::{Error, Result};
use crate::ids::PathPartId;
use crate::ids::TenantId;
use crate::model::{
    Actor, Definition, ExcludedCommonFile, ExclusionReason, Grant, InputOrigin, InputSnapshot,
    InstructionSnapshot, PathPart, PathPartKind, Run, Snapshot, Timestamp,
};
use crate::policy::can_read_path;
use crate::store::{Store, StoreResult};
use std::collections::HashSet;

/// A part resolved in `tenant`: the part and, for a DOCUMENT, its active version.
pub(crate) fn resolve_part<S: Store + ?Sized>(
    store: &S,
    tenant: TenantId,
    id: PathPartId,
) -> StoreResult<Resolved> {
    let part = store.path_part(tenant, id)?;
    let active_version = match &part {
        Some(p) if p.kind == PathPartKind::Document => active_version_of(store, tenant, p.id)?,
        _ => None,
    };
    Ok(Resolved {
        id,
        part,
        active_version,
    })
}

/// The active DOCUMENT_VERSION of a document, if any.
pub(crate) fn active_version_of<S: Store + ?Sized>(
    store: &S,
    tenant: TenantId,
    doc: PathPartId,
) -> StoreResult<Option<PathPart>> {
    Ok(store.children(tenant, doc)?.into_iter().find(|v| {
        v.kind == PathPartKind::DocumentVersion && v.version.as_ref().is_some_and(|i| i.active)
    }))
}

/// [`Store::start_facts`]'s default: the facts read part by part, in two rounds (the parts
/// Start names and the uploads, then the versions of the documents among them), assembled by
/// [`StartFacts::assemble`] like a batched read's.
pub fn read_start_facts<S: Store + ?Sized>(
    store: &S,
    run: &Run,
    def: &Definition,
) -> StoreResult<StartFacts> {
    let t = run.tenant_id;
    let mut found = Vec::new();
    for id in StartFacts::wanted(run, def) {
        found.extend(store.path_part(t, id)?);
    }
    found.extend(store.children(t, run.folders.inputs_id)?);
    let documents: Vec<PathPartId> = StartFacts::documents_in(run, &found).collect();
    for doc in documents {
        found.extend(store.children(t, doc)?);
    }
    Ok(StartFacts::assemble(run, def, found))
}

impl StartFacts {
    /// The ids Start resolves by id: the instruction, the input scope and the common files (a
    /// batched read fetches these parts, plus the children of the run's inputs folder).
    pub fn wanted(run: &Run, def: &Definition) -> Vec<PathPartId> {
        let mut ids: Vec<PathPartId> = def.instruction_id.into_iter().collect();
        ids.extend(&run.input_scope);
        ids.extend(&def.common_file_ids);
        ids
    }

    /// The DOCUMENTs among `found` in the run's tenant: the parts whose versions a batched read
    /// fetches in its second round (their `DOCUMENT_VERSION` children).
    pub fn documents_in<'a>(
        run: &Run,
        found: &'a [PathPart],
    ) -> impl Iterator<Item = PathPartId> + 'a {
        let tenant = run.tenant_id;
        found
            .iter()
            .filter(move |p| p.tenant_id == tenant && p.kind == PathPartKind::Document)
            .map(|p| p.id)
    }

    /// The facts from the parts a store fetched, in any order and with repeats: every part
    /// [`StartFacts::wanted`] names that exists in the run's tenant, every child of the run's
    /// inputs folder, and the `DOCUMENT_VERSION` children of every DOCUMENT among those. Parts
    /// of other tenants are ignored; a document's active version is its first active
    /// `DOCUMENT_VERSION` child in path order, and uploads come in path order (ties by id).
    pub fn assemble(run: &Run, def: &Definition, found: Vec<PathPart>) -> StartFacts {
        // foldhash: these maps are keyed by ids from the store; SipHash was most of the cost.
        type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
        let tenant = run.tenant_id;
        // By id, the tenant's parts only (a repeat is the same part read twice).
        let mut by_id: HashMap<PathPartId, PathPart> =
            HashMap::with_capacity_and_hasher(found.len(), Default::default());
        for p in found.into_iter().filter(|p| p.tenant_id == tenant) {
            by_id.entry(p.id).or_insert(p);
        }
        // Each document's first active version in path order (ties by id).
        let mut active: HashMap<PathPartId, (&str, PathPartId)> = HashMap::default();
        for v in by_id.values() {
            let is_active = v.kind == PathPartKind::DocumentVersion
                && v.version.as_ref().is_some_and(|i| i.active);
            if let (true, Some(doc)) = (is_active, v.parent_id) {
                let key = (v.path.as_str(), v.id);
                active
                    .entry(doc)
                    .and_modify(|cur| *cur = (*cur).min(key))
                    .or_insert(key);
            }
        }
        let active: HashMap<PathPartId, PathPartId> =
            active.into_iter().map(|(doc, (_, v))| (doc, v)).collect();
        let version_of = |p: &PathPart| match p.kind {
            PathPartKind::Document => active.get(&p.id).copied(),
            _ => None,
        };
        let inputs = run.folders.inputs_id;
        let mut uploads: Vec<(&str, PathPartId)> = by_id
            .values()
            .filter(|p| p.parent_id == Some(inputs) && p.kind == PathPartKind::Document)
            .map(|p| (p.path.as_str(), p.id))
            .collect();
        uploads.sort_unstable();
        let uploads: Vec<PathPartId> = uploads.into_iter().map(|(_, id)| id).collect();
        // Every part goes to its last use by move and is cloned only for earlier ones (a
        // document in both the scope and the common files), so no part is copied needlessly.
        let asked: Vec<PathPartId> = def
            .instruction_id
            .iter()
            .chain(&run.input_scope)
            .chain(&uploads)
            .chain(&def.common_file_ids)
            .copied()
            .collect();
        let mut uses: HashMap<PathPartId, u32> =
            HashMap::with_capacity_and_hasher(asked.len() * 2, Default::default());
        for id in &asked {
            if let Some(p) = by_id.get(id) {
                *uses.entry(*id).or_default() += 1;
                if let Some(v) = version_of(p) {
                    *uses.entry(v).or_default() += 1;
                }
            }
        }
        let mut take = |id: PathPartId| -> Option<PathPart> {
            let left = uses.get_mut(&id)?;
            *left = left.saturating_sub(1);
            if *left == 0 {
                by_id.remove(&id)
            } else {
                by_id.get(&id).cloned()
            }
        };
        let mut resolve = |id: PathPartId| {
            let part = take(id);
            let active_version = part.as_ref().and_then(&version_of).and_then(&mut take);
            Resolved {
                id,
                part,
                active_version,
            }
        };
        StartFacts {
            instruction: def.instruction_id.map(&mut resolve),
            scope: run.input_scope.iter().map(|id| resolve(*id)).collect(),
            uploads: uploads.iter().map(|id| resolve(*id)).collect(),
            common: def.common_file_ids.iter().map(|id| resolve(*id)).collect(),
        }
    }
}

/// A path-part id as the engine found it in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The id asked for.
    pub id: PathPartId,
    /// The part, or `None` when it does not exist in the tenant.
    pub part: Option<PathPart>,
    /// For a DOCUMENT: its active DOCUMENT_VERSION, if any.
    pub active_version: Option<PathPart>,
}

/// Everything Start needs from the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartFacts {
    /// The definition's instruction document, resolved.
    pub instruction: Option<Resolved>,
    /// The run's input scope, resolved, in order.
    pub scope: Vec<Resolved>,
    /// The uploads (DOCUMENTs under `inputs/`), resolved, in path order.
    pub uploads: Vec<Resolved>,
    /// The definition's common files, resolved, in order.
    pub common: Vec<Resolved>,
}

/// Pin one resolved part: a DOCUMENT to its active version, anything else as it is.
fn pin(r: &Resolved, origin: InputOrigin) -> Option<InputSnapshot> {
    let part = r.part.as_ref()?;
    let pinned = match part.kind {
        PathPartKind::Document => r.active_version.as_ref()?,
        k if k.is_referencable() => part,
        _ => return None,
    };
    Some(InputSnapshot {
        path_part_id: pinned.id,
        materialized_path: pinned.path.clone(),
        part_type: pinned.kind,
        origin,
    })
}

/// SPEC section 4: the snapshot `actor` gets when starting `run` now. All or nothing: a scope
/// reference that vanished is `conflict` naming it, one no longer readable is `forbidden`
/// (START-8); common files record and continue (SNAP-4).
pub fn build_snapshot(
    actor: &Actor,
    grants: &[Grant],
    def: &Definition,
    run: &Run,
    facts: &StartFacts,
    user_message: Option<String>,
    now: Timestamp,
) -> Result<Snapshot> {
    // SNAP-1
    let instruction = match facts
        .instruction
        .as_ref()
        .and_then(|r| r.active_version.as_ref())
    {
        Some(v) => InstructionSnapshot {
            path_part_id: Some(v.id),
            materialized_path: v.path.clone(),
            source: Some(format!("kb://{}/{}", v.tenant_id, v.id)),
        },
        None => InstructionSnapshot {
            path_part_id: None,
            materialized_path: String::new(),
            source: None,
        },
    };

    // SNAP-4: common files, record and continue.
    let mut common = Vec::new();
    let mut excluded = Vec::new();
    for r in &facts.common {
        let reason = match &r.part {
            None => Some(ExclusionReason::NotFound),
            Some(p) if !can_read_path(actor, grants, run.tenant_id, &p.path) => {
                Some(ExclusionReason::NoAccess)
            }
            Some(_) => match pin(r, InputOrigin::DefinitionCommon) {
                Some(i) => {
                    common.push(i);
                    None
                }
                None => Some(ExclusionReason::Unresolvable),
            },
        };
        if let Some(reason) = reason {
            excluded.push(ExcludedCommonFile {
                path_part_id: r.id,
                reason,
            });
        }
    }

    // SNAP-2 and START-8: references must still exist, be readable and resolvable.
    let mut references = Vec::with_capacity(facts.scope.len());
    for r in &facts.scope {
        let Some(part) = &r.part else {
            return Err(Error::conflict(
                Some(run.execution_state),
                format!("input {} no longer exists", r.id),
            ));
        };
        if !can_read_path(actor, grants, run.tenant_id, &part.path) {
            return Err(Error::forbidden(format!(
                "input {} is not readable by the starter",
                r.id
            )));
        }
        match pin(r, InputOrigin::RunReference) {
            Some(i) => references.push(i),
            None => {
                return Err(Error::conflict(
                    Some(run.execution_state),
                    format!("input {} has no active version to pin", r.id),
                ))
            }
        }
    }

    // SNAP-3: uploads pinned to their version.
    let mut uploads = Vec::with_capacity(facts.uploads.len());
    for r in &facts.uploads {
        match pin(r, InputOrigin::RunUpload) {
            Some(i) => uploads.push(i),
            None => {
                return Err(Error::conflict(
                    Some(run.execution_state),
                    format!("upload {} has no usable version", r.id),
                ))
            }
        }
    }

    // SNAP-5: first origin wins, in the order common, references, uploads.
    let mut seen = HashSet::new();
    let inputs = common
        .into_iter()
        .chain(references)
        .chain(uploads)
        .filter(|i| seen.insert(i.path_part_id))
        .collect();

    // SNAP-6
    let mut seen_skills = HashSet::new();
    let selected_skill_ids = def
        .selected_skill_ids
        .iter()
        .chain(&run.selected_skill_ids)
        .copied()
        .filter(|s| seen_skills.insert(*s))
        .collect();

    Ok(Snapshot {
        workflow_name: def.name.clone(),
        max_run_duration_seconds: def.max_run_duration_seconds,
        approval_required: def.approval_required,
        instruction,
        inputs,
        excluded_common_files: excluded,
        user_message,
        selected_skill_ids,
        created_at: now,
    })
}
