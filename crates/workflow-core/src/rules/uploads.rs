use super::create::{new_upload_parts, settle};
use super::start::start_from_draft;
use super::*;

/// Adding an upload to `inputs/`: triggerer or admin, draft runs only (a started run's inputs
/// are frozen in its snapshot). An unsettled upload makes the run PENDING (SYNC-1).
pub fn decide_add_upload(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    upload: &NewUpload,
    inputs: &PathPart,
    existing: &[UploadStatus],
    ids: (Uuid, Uuid),
) -> Result<Decision<PathPart>> {
    validate_name("name", &upload.name)?;
    require_manage(ctx.access(run, def), run, "upload to")?;
    if !matches!(
        run.execution_state,
        ExecutionState::NotStarted | ExecutionState::Pending
    ) {
        return Err(conflict(run, "uploads can only be added to a draft run"));
    }
    if existing.iter().any(|u| u.name == upload.name) {
        return Err(conflict(
            run,
            format!("inputs/ already has {:?}", upload.name),
        ));
    }
    let (doc, version) = new_upload_parts(run.tenant_id, inputs, upload, ids.0, ids.1, ctx.now);
    let mut next = bump(run, ctx.now);
    if !upload.ingestion.is_settled() {
        next.execution_state = ExecutionState::Pending;
    }
    let mut t = write(next, Event::UploadAdded);
    t.catalog = vec![
        CatalogWrite::PutPart(Box::new(doc.clone())),
        CatalogWrite::PutPart(Box::new(version)),
    ];
    Ok(Decision::write(t, doc))
}

/// One upload of a run as stored: its DOCUMENT's name and its active version's id and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadStatus {
    /// The DOCUMENT's name under `inputs/`.
    pub name: String,
    /// Its active DOCUMENT_VERSION.
    pub version_id: PathPartId,
    /// That version's ingestion status.
    pub ingestion: Ingestion,
}

/// Facts of an ingestion change, as stored before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestionFacts {
    /// The version whose status changes.
    pub version: PathPart,
    /// Every upload of the run.
    pub uploads: Vec<UploadStatus>,
    /// Start facts, read only when [`ingestion_wants_start`] (else empty).
    pub start: StartFacts,
    /// The triggerer, as whom auto-start runs; `None` when that user no longer exists.
    pub triggerer: Option<User>,
}

/// Whether an ingestion change of `run` may auto-start it, so that the engine reads the start
/// facts: a PENDING run with `auto_start` armed (SYNC-2).
pub fn ingestion_wants_start(run: &Run) -> bool {
    run.execution_state == ExecutionState::Pending && run.auto_start
}

/// Ingestion sync (SYNC-1..4), applied when the upload version `facts.version` changes to
/// `status`. The same status again changes nothing. Auto-start runs as the triggerer (a
/// vanished triggerer acts as a plain USER without grants); if Start refuses (START-*), the run
/// stays NOT_STARTED and the refusal is recorded as the history reason.
pub fn decide_ingestion(
    now: Timestamp,
    grace: chrono::Duration,
    run: &Run,
    def: &Definition,
    status: Ingestion,
    facts: &IngestionFacts,
    thread_id: Uuid,
) -> Result<Decision> {
    let mut version = facts.version.clone();
    let info = version
        .version
        .as_mut()
        .ok_or_else(|| Error::invalid("version_id", "not a document version"))?;
    if info.ingestion == status {
        return Ok(Decision::none());
    }
    info.ingestion = status;
    let changed = version.id;
    let part_write = CatalogWrite::PutPart(Box::new(version));
    let statuses: Vec<(String, Ingestion)> = facts
        .uploads
        .iter()
        .map(|u| {
            let s = if u.version_id == changed {
                status
            } else {
                u.ingestion
            };
            (u.name.clone(), s)
        })
        .collect();
    let (actor, grants) = match &facts.triggerer {
        Some(u) => (Actor::of(u), u.grants.clone()),
        None => (
            Actor::new(run.tenant_id, run.triggered_by, Role::User),
            Vec::new(),
        ),
    };
    let ctx = Ctx {
        actor: &actor,
        grants: &grants,
        now,
        grace,
    };
    let mut next = bump(run, now);
    let mut event = Event::IngestionChanged;
    let mut reason = None;
    let unsettled = statuses.iter().any(|(_, s)| !s.is_settled());
    match run.execution_state {
        // SYNC-1
        ExecutionState::NotStarted if unsettled => next.execution_state = ExecutionState::Pending,
        ExecutionState::Pending => match settle(&statuses, run.auto_start) {
            (ExecutionState::Failed, error) => {
                // SYNC-3, auto-start armed
                let error = error.unwrap_or_else(|| "An upload failed to ingest".into());
                next = fail(run, now, FailureKind::UploadFailed, &error);
                reason = Some(error);
                event = Event::Failed;
            }
            (ExecutionState::NotStarted, _) if run.auto_start => {
                // SYNC-2: settle, then start as the triggerer with the stored message, on the
                // start facts with this change applied.
                let mut start = facts.start.clone();
                for u in &mut start.uploads {
                    if let Some(v) = u.active_version.as_mut().filter(|v| v.id == changed) {
                        v.version = Some(VersionInfo {
                            ingestion: status,
                            active: true,
                        });
                    }
                }
                let mut draft = run.clone();
                draft.execution_state = ExecutionState::NotStarted;
                let msg = run.auto_start_user_message.clone();
                match start_from_draft(&ctx, &draft, def, msg, &start, thread_id, Event::Started) {
                    Ok(Decision {
                        change: Some(t), ..
                    }) => {
                        let mut t = *t;
                        t.reason = Some("auto-start".into());
                        t.catalog.insert(0, part_write);
                        return Ok(Decision::write(t, ()));
                    }
                    Ok(Decision { change: None, .. }) => {
                        next.execution_state = ExecutionState::NotStarted
                    }
                    Err(e) => {
                        next.execution_state = ExecutionState::NotStarted;
                        reason = Some(format!("auto-start refused: {e}"));
                    }
                }
            }
            (state, _) => next.execution_state = state,
        },
        // SYNC-4 (and a draft whose uploads stay settled)
        _ => {}
    }
    let t = Transition {
        write: RunWrite::Put(Box::new(next)),
        event,
        reason,
        outbox: Vec::new(),
        catalog: vec![part_write],
    };
    Ok(Decision::write(t, ()))
}

/// Adding an output document to `outputs/`: the triggerer (the runner acts as it, assumed) or an
/// admin, while the run is IN_PROGRESS.
pub fn decide_add_output(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    name: &str,
    outputs: &PathPart,
    existing: &[PathPart],
    ids: (Uuid, Uuid),
) -> Result<Decision<PathPart>> {
    validate_name("name", name)?;
    require_manage(ctx.access(run, def), run, "write outputs of")?;
    if run.execution_state != ExecutionState::InProgress {
        return Err(conflict(
            run,
            "outputs can only be written while the run is IN_PROGRESS",
        ));
    }
    if existing.iter().any(|p| p.name == name) {
        return Err(conflict(run, format!("outputs/ already has {name:?}")));
    }
    let upload = NewUpload {
        name: name.to_owned(),
        ingestion: Ingestion::Completed,
    };
    let (mut doc, version) =
        new_upload_parts(run.tenant_id, outputs, &upload, ids.0, ids.1, ctx.now);
    if run.snapshot.as_ref().is_some_and(|s| s.approval_required) {
        doc.approval_state = ApprovalState::Pending;
    }
    let mut t = write(bump(run, ctx.now), Event::OutputAdded);
    t.catalog = vec![
        CatalogWrite::PutPart(Box::new(doc.clone())),
        CatalogWrite::PutPart(Box::new(version)),
    ];
    Ok(Decision::write(t, doc))
}

/// RTOK-2, CB-4 for outputs: a runner of attempt `attempt` writes outputs only while the run is
/// still at that attempt; once a retry moved it on, a late runner of the old attempt is refused
/// (`conflict`) and writes nothing. `None`: the caller names no attempt (an API key).
pub fn check_output_attempt(run: &Run, attempt: Option<u32>) -> Result<()> {
    match attempt {
        Some(a) if a != run.attempt => Err(conflict(
            run,
            format!("attempt {a} is over; the run is at attempt {}", run.attempt),
        )),
        _ => Ok(()),
    }
}
