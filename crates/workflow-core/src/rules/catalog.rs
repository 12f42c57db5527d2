//! The catalog administration calls (tenants, users, knowledge-base parts, versions,
//! definitions): not run transitions, but decided the same way, from facts passed in, into the
//! catalog writes one atomic `apply_catalog` makes.

use super::*;
use crate::ids::{DefinitionId, TenantId};
use crate::model::{Schedule, ScheduleCadence, User, DEFAULT_MAX_RUN_DURATION_SECONDS};

/// Input of definition creation (or replacement, with the same id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// catalog write as the definition (as the Knowledge Stack API does), with one active,
    /// ingested version, so that snapshots pin a real instruction.
    pub create_empty_instruction: bool,
    /// Free text (DEF-5).
    pub description: Option<String>,
    /// The schedule fields as given (SCHED-1).
    pub schedule: ScheduleFields,
    /// The definition it is a copy of (DEF-4).
    pub created_from_id: Option<DefinitionId>,
}

/// The schedule fields of a definition request, as given: all absent (no schedule), or a
/// cadence and a start, with an optional IANA zone (SCHED-1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleFields {
    /// DAILY, WEEKLY or MONTHLY.
    pub cadence: Option<ScheduleCadence>,
    /// The first occurrence.
    pub start_at: Option<Timestamp>,
    /// An IANA zone name; omitted: the tenant's (UTC, as tenants carry no zone).
    pub timezone: Option<String>,
}

/// Maximum length of a definition description (DEF-5).
pub const MAX_DESCRIPTION_LEN: usize = 10_000;

/// SCHED-1: the schedule the fields describe, or a clear `unprocessable_entity` for a zone
/// that is not an IANA name (an ISO offset included). Without a cadence there is no schedule
/// (the start is ignored; a given zone is still checked); a cadence without a start starts
/// `now`; an empty zone is no zone (UTC, as tenants carry no zone).
pub fn validate_schedule(f: &ScheduleFields, now: Timestamp) -> Result<Option<Schedule>> {
    let timezone = match f.timezone.as_deref().filter(|z| !z.is_empty()) {
        None => "UTC".to_owned(),
        Some(z) => {
            let looks_like_offset = z.starts_with(['+', '-']) || z.contains(':');
            match z.parse::<chrono_tz::Tz>() {
                Ok(tz) if !looks_like_offset => tz.name().to_owned(),
                _ => {
                    return Err(Error::invalid(
                        "schedule_timezone",
                        format!(
                            "{z:?} is not an IANA time zone name (e.g. Europe/London); an ISO \
                             offset is refused because it does not follow DST"
                        ),
                    ))
                }
            }
        }
    };
    let Some(cadence) = f.cadence else {
        return Ok(None);
    };
    let start_at = f.start_at.unwrap_or(now);
    Ok(Some(Schedule {
        cadence,
        start_at,
        timezone,
    }))
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
    /// A replacement's current subtree (its `runs/` folder, instruction, run folders), whose
    /// paths follow a rename or move.
    pub subtree: Vec<PathPart>,
    /// A replacement's live runs, and how many of them are IN_PROGRESS (DEF-2).
    pub runs: u64,
    /// Of which IN_PROGRESS.
    pub runs_in_progress: u64,
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
    validate_len(
        "description",
        cmd.description.as_deref(),
        MAX_DESCRIPTION_LEN,
    )?;
    let schedule = validate_schedule(&cmd.schedule, ctx.now)?;
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
    // Creating, or moving, needs write access to the folder; editing in place (DEF-2) needs
    // write access to the definition itself.
    let existing = facts.existing.as_ref();
    let stays = existing.is_some_and(|e| e.parent_id == parent.id);
    let writable = |path: &str| policy::can_write_path(ctx.actor, ctx.grants, tenant, path);
    if let Some(e) = existing {
        if !writable(&e.path) {
            return Err(Error::forbidden(
                "editing a definition needs write access to it",
            ));
        }
    }
    if !stays && !writable(&parent.path) {
        return Err(Error::forbidden(
            "creating or moving a definition needs write access to its folder",
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
    if let Some(e) = existing {
        let moved = e.parent_id != parent.id || e.name != cmd.name;
        if moved && facts.runs_in_progress > 0 {
            return Err(Error::conflict(
                Some(ExecutionState::InProgress),
                "a run of this definition is IN_PROGRESS: it cannot be moved or renamed now",
            ));
        }
        if moved && facts.runs > 0 {
            return Err(Error::conflict(
                None,
                "this definition has runs, whose folders live under its path: moving or \
                 renaming it is not supported (delete its runs, or copy it with instantiate)",
            ));
        }
    }
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
        let doc = PathPart::new(
            PathPartId(Uuid::new_v5(&id.0, b"instruction.md")),
            tenant,
            PathPartKind::Document,
            "instruction.md",
            Some(&def_part),
            created_at,
        );
        let version_id = PathPartId(Uuid::new_v5(&id.0, b"instruction.md/1"));
        let mut version = PathPart::new(
            version_id,
            tenant,
            PathPartKind::DocumentVersion,
            &version_id.to_string(),
            Some(&doc),
            created_at,
        );
        version.version = Some(VersionInfo {
            ingestion: Ingestion::Completed,
            active: true,
        });
        (doc, version)
    });
    let def = Definition {
        id,
        tenant_id: tenant,
        parent_id: parent.id,
        path: def_part.path.clone(),
        runs_folder_id: runs_id,
        name: cmd.name.clone(),
        instruction_id: cmd
            .instruction_id
            .or(instruction.as_ref().map(|(p, _)| p.id)),
        max_run_duration_seconds: max,
        approval_required: cmd.approval_required,
        is_active: cmd.is_active,
        is_template: cmd.is_template,
        common_file_ids: cmd.common_file_ids.clone(),
        selected_skill_ids: cmd.selected_skill_ids.clone(),
        owner_id: existing.map_or(ctx.actor.user_id, |e| e.owner_id),
        created_at,
        description: cmd.description.clone(),
        schedule,
        created_from_id: cmd.created_from_id,
        updated_at: ctx.now,
    };
    // A replacement that changes nothing keeps `updated_at` (loading a fixture twice writes
    // nothing new, FIX-1).
    let mut def = def;
    if let Some(e) = existing {
        let same = Definition {
            updated_at: e.updated_at,
            ..def.clone()
        };
        if same == *e {
            def.updated_at = e.updated_at;
        }
    }
    // A renamed or moved definition without runs: its other parts follow its path.
    let old_path = existing.map(|e| e.path.clone());
    let repath: Vec<PathPart> = match &old_path {
        Some(old) if *old != def_part.path => facts
            .subtree
            .iter()
            .filter(|p| p.id != runs_id)
            .map(|p| {
                let mut p = p.clone();
                p.path = format!(
                    "{}{}",
                    def_part.path,
                    &p.path[old.len().min(p.path.len())..]
                );
                p
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut writes = vec![
        CatalogWrite::PutPart(Box::new(def_part)),
        CatalogWrite::PutPart(Box::new(runs)),
    ];
    writes.extend(
        repath
            .into_iter()
            .map(|p| CatalogWrite::PutPart(Box::new(p))),
    );
    if let Some((doc, version)) = instruction {
        let activate = CatalogWrite::ActivateVersion {
            tenant,
            document: doc.id,
            version: version.id,
        };
        writes.push(CatalogWrite::PutPart(Box::new(doc)));
        writes.push(CatalogWrite::PutPart(Box::new(version)));
        writes.push(activate);
    }
    writes.push(CatalogWrite::Definition(Box::new(def.clone())));
    Ok(Decision::write(writes, def))
}

/// Input of a definition's full replacement (DEF-2, ksapi `UpdateWorkflowDefinitionRequest`):
/// `None` in a retain-on-null field keeps the stored value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutDefinition {
    /// New name.
    pub name: String,
    /// New description (`None` clears it: full replacement).
    pub description: Option<String>,
    /// 60..=7200; default 1800.
    pub max_run_duration_seconds: Option<u32>,
    /// Retain-on-null: a new instruction DOCUMENT.
    pub instruction_id: Option<PathPartId>,
    /// Retain-on-null: the folder to move it to.
    pub parent_id: Option<PathPartId>,
    /// Whether runs may start.
    pub is_active: bool,
    /// Whether completed runs need approval.
    pub approval_required: bool,
    /// Retain-on-null: skills.
    pub selected_skill_ids: Option<Vec<Uuid>>,
    /// Retain-on-null: common files.
    pub common_file_ids: Option<Vec<PathPartId>>,
    /// The schedule (all absent: none).
    pub schedule: ScheduleFields,
}

impl PutDefinition {
    /// The replacement of `existing` this asks for, as a [`NewDefinition`] with its id (the
    /// template flag and the copy origin are immutable).
    pub fn over(self, existing: &Definition) -> NewDefinition {
        NewDefinition {
            id: Some(existing.id),
            parent_id: self.parent_id.unwrap_or(existing.parent_id),
            name: self.name,
            instruction_id: self.instruction_id.or(existing.instruction_id),
            max_run_duration_seconds: self.max_run_duration_seconds,
            approval_required: self.approval_required,
            is_active: self.is_active,
            is_template: existing.is_template,
            common_file_ids: self
                .common_file_ids
                .unwrap_or_else(|| existing.common_file_ids.clone()),
            selected_skill_ids: self
                .selected_skill_ids
                .unwrap_or_else(|| existing.selected_skill_ids.clone()),
            create_empty_instruction: false,
            description: self.description,
            schedule: self.schedule,
            created_from_id: existing.created_from_id,
        }
    }
}

/// What instantiating `source` into `parent_id` creates (DEF-4): an active, non-template copy
/// named as asked or as the source, pinning the source's instruction, with `created_from_id`.
pub fn instantiate_command(
    source: &Definition,
    parent_id: PathPartId,
    name: Option<String>,
) -> NewDefinition {
    NewDefinition {
        id: None,
        parent_id,
        name: name.unwrap_or_else(|| source.name.clone()),
        instruction_id: source.instruction_id,
        max_run_duration_seconds: Some(source.max_run_duration_seconds),
        approval_required: source.approval_required,
        is_active: true,
        is_template: false,
        common_file_ids: source.common_file_ids.clone(),
        selected_skill_ids: source.selected_skill_ids.clone(),
        create_empty_instruction: source.instruction_id.is_none(),
        description: source.description.clone(),
        schedule: ScheduleFields::default(),
        created_from_id: Some(source.id),
    }
}
