//! The catalog administration calls (tenants, users, knowledge-base parts, versions,
//! definitions): not run transitions, but decided the same way, from facts passed in, into the
//! catalog writes one atomic `apply_catalog` makes.

use super::*;
use crate::ids::{DefinitionId, TenantId};
use crate::model::{User, DEFAULT_MAX_RUN_DURATION_SECONDS};

/// Input of definition creation (or replacement, with the same id).
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

/// A user's grants must name absolute paths.
pub fn decide_user(user: &User) -> Result<CatalogDecision<()>> {
    if let Some(g) = user.grants.iter().find(|g| !g.path.starts_with('/')) {
        return Err(Error::invalid(
            "grants.path",
            format!("{:?} must start with '/'", g.path),
        ));
    }
    Ok(Decision::write(vec![CatalogWrite::User(user.clone())], ()))
}

/// The part as written: a re-write keeps the creation time of `existing`, so that writing the
/// same node twice changes nothing.
fn part(
    tenant: TenantId,
    id: PathPartId,
    kind: PathPartKind,
    name: &str,
    parent: Option<&PathPart>,
    existing: Option<&PathPart>,
    now: Timestamp,
) -> PathPart {
    let created = existing.map_or(now, |e| e.created_at);
    PathPart::new(id, tenant, kind, name, parent, created)
}

/// Insert or replace a knowledge-base node (folder, document, connector) under `parent`
/// (`None`: a root). Versions, definitions and run folders are made by their own calls.
pub fn decide_part(
    tenant: TenantId,
    id: PathPartId,
    kind: PathPartKind,
    name: &str,
    parent: Option<&PathPart>,
    existing: Option<&PathPart>,
    now: Timestamp,
) -> Result<CatalogDecision<PathPart>> {
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
    let p = part(tenant, id, kind, name, parent, existing, now);
    Ok(Decision::write(
        vec![CatalogWrite::PutPart(Box::new(p.clone()))],
        p,
    ))
}

/// Insert or replace version `id` of `document`. An active version becomes the document's only
/// active one, atomically in the store ([`CatalogWrite::ActivateVersion`]): two racing
/// activations leave exactly one active version, whichever applies last.
pub fn decide_version(
    document: &PathPart,
    id: PathPartId,
    ingestion: Ingestion,
    active: bool,
    existing: Option<&PathPart>,
    now: Timestamp,
) -> Result<CatalogDecision<PathPart>> {
    if document.kind != PathPartKind::Document {
        return Err(Error::not_found("document", document.id));
    }
    let mut v = part(
        document.tenant_id,
        id,
        PathPartKind::DocumentVersion,
        &id.to_string(),
        Some(document),
        existing,
        now,
    );
    v.version = Some(VersionInfo { ingestion, active });
    let mut writes = vec![CatalogWrite::PutPart(Box::new(v.clone()))];
    if active {
        writes.push(CatalogWrite::ActivateVersion {
            tenant: document.tenant_id,
            document: document.id,
            version: id,
        });
    }
    Ok(Decision::write(writes, v))
}

/// What definition creation needs from the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefinitionFacts {
    /// The parent folder, if it exists in the tenant.
    pub parent: Option<PathPart>,
    /// The instruction part, when one is named and exists.
    pub instruction: Option<PathPart>,
    /// A child of the parent with the same name, if any.
    pub sibling: Option<PathPart>,
    /// The definition with this id, when it is a replacement.
    pub existing: Option<Definition>,
}

/// Create (or, with the same id, replace) a workflow definition `id`: OWNER/ADMIN, or a USER
/// with a read-write grant covering the parent folder. Its `runs/` folder has the id
/// `uuid v5(definition id, "runs")`.
pub fn decide_definition(
    ctx: &Ctx<'_>,
    cmd: &NewDefinition,
    id: DefinitionId,
    facts: &DefinitionFacts,
) -> Result<CatalogDecision<Definition>> {
    validate_name("name", &cmd.name)?;
    let max = cmd
        .max_run_duration_seconds
        .unwrap_or(DEFAULT_MAX_RUN_DURATION_SECONDS);
    if !(60..=7200).contains(&max) {
        return Err(Error::invalid(
            "max_run_duration_seconds",
            "must be 60..=7200",
        ));
    }
    let tenant = ctx.actor.tenant_id;
    let parent = facts
        .parent
        .as_ref()
        .filter(|p| policy::can_read_path(ctx.actor, ctx.grants, tenant, &p.path))
        .ok_or_else(|| Error::not_found("folder", cmd.parent_id))?;
    if parent.kind != PathPartKind::Folder {
        return Err(Error::invalid("parent_id", "must be a FOLDER"));
    }
    if !policy::can_write_path(ctx.actor, ctx.grants, tenant, &parent.path) {
        return Err(Error::forbidden(
            "creating a definition needs write access to its folder",
        ));
    }
    if let Some(i) = cmd.instruction_id {
        let doc = facts
            .instruction
            .as_ref()
            .ok_or_else(|| Error::not_found("path part", i))?;
        if doc.kind != PathPartKind::Document {
            return Err(Error::invalid("instruction_id", "must be a DOCUMENT"));
        }
    }
    if facts
        .sibling
        .as_ref()
        .is_some_and(|c| c.id != PathPartId::from(id))
    {
        return Err(Error::conflict(
            None,
            format!("{} already has {:?}", parent.path, cmd.name),
        ));
    }
    let existing = facts.existing.as_ref();
    let created_at = existing.map_or(ctx.now, |e| e.created_at);
    let def_part = PathPart::new(
        id.into(),
        tenant,
        PathPartKind::WorkflowDefinition,
        &cmd.name,
        Some(parent),
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
    let instruction = (cmd.instruction_id.is_none() && cmd.create_empty_instruction).then(|| {
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
        name: cmd.name.clone(),
        instruction_id: cmd.instruction_id.or(instruction.as_ref().map(|p| p.id)),
        max_run_duration_seconds: max,
        approval_required: cmd.approval_required,
        is_active: cmd.is_active,
        is_template: cmd.is_template,
        common_file_ids: cmd.common_file_ids.clone(),
        selected_skill_ids: cmd.selected_skill_ids.clone(),
        owner_id: existing.map_or(ctx.actor.user_id, |e| e.owner_id),
        created_at,
    };
    let mut writes = vec![
        CatalogWrite::PutPart(Box::new(def_part)),
        CatalogWrite::PutPart(Box::new(runs)),
    ];
    writes.extend(instruction.map(|p| CatalogWrite::PutPart(Box::new(p))));
    writes.push(CatalogWrite::Definition(Box::new(def.clone())));
    Ok(Decision::write(writes, def))
}
