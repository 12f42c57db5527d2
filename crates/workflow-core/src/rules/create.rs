use super::*;

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
    let mut seen = std::collections::HashSet::with_capacity(scope.len());
    for r in scope {
        let Some(part) = &r.part else {
            return Err(Error::not_found("path part", r.id));
        };
        if !part.kind.is_referencable() {
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
        if seen.insert(r.id) {
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
pub(super) fn settle(
    statuses: &[(String, Ingestion)],
    auto_start: bool,
) -> (ExecutionState, Option<String>) {
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

pub(super) fn new_upload_parts(
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

/// Create (CREATE-1..7). Uploads need ids beyond `ids`: two per upload in `upload_ids`. The
/// answer is the new run, or (CREATE-6, nothing to write) the run created the first time.
pub fn decide_create(
    ctx: &Ctx<'_>,
    def: &Definition,
    cmd: &CreateRun,
    facts: &CreateFacts,
    ids: FreshIds,
    upload_ids: &[(Uuid, Uuid)],
) -> Result<Decision<Run>> {
    validate_create(cmd)?;
    check_can_create(ctx, def)?;
    if let Some(existing) = &facts.existing {
        return Ok(Decision::unchanged(existing.clone()));
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
        failure: None,
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
    let mut t = write(run.clone(), Event::Created);
    t.catalog = head;
    Ok(Decision::write(t, run))
}
