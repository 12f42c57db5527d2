use super::*;

/// Input of Start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartRun {
    /// START-7: ≤ 4000 characters, pinned into the snapshot.
    pub user_message: Option<String>,
}

impl StartRun {
    /// Field checks, decided before the run is looked up (VIS-1: a bad body answers the same
    /// for a hidden run as for an unknown one).
    pub fn validate(&self) -> Result<()> {
        validate_len(
            "user_message",
            self.user_message.as_deref(),
            MAX_USER_MESSAGE_LEN,
        )
    }
}

/// Whether every upload is ingested (START-4).
pub(super) fn uploads_ready(facts: &StartFacts) -> bool {
    facts.uploads.iter().all(|r| {
        r.active_version
            .as_ref()
            .and_then(|v| v.version.as_ref())
            .is_some_and(|v| v.ingestion == Ingestion::Completed)
    })
}

/// Start (START-1..8). The permission check comes first (VIS-2).
pub fn decide_start(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &StartRun,
    facts: &StartFacts,
    thread_id: Uuid,
) -> Result<Decision> {
    start_needs_facts(ctx, run, def, cmd)?;
    match run.execution_state {
        ExecutionState::InProgress => return Ok(Decision::none()),
        ExecutionState::Completed | ExecutionState::Failed => {
            return Err(conflict(
                run,
                format!("a {} run cannot be started", run.execution_state),
            ))
        }
        ExecutionState::Pending => {
            return Err(conflict(run, "the run's uploads are still ingesting"))
        }
        ExecutionState::NotStarted => {}
    }
    start_from_draft(
        ctx,
        run,
        def,
        cmd.user_message.clone(),
        facts,
        thread_id,
        Event::Started,
    )
}

pub(super) fn start_from_draft(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    user_message: Option<String>,
    facts: &StartFacts,
    thread_id: Uuid,
    event: Event,
) -> Result<Decision> {
    if !def.is_active || def.is_template {
        return Err(conflict(
            run,
            "the workflow definition is inactive or a template",
        ));
    }
    if !uploads_ready(facts) {
        return Err(conflict(
            run,
            "an upload is not ingested (still ingesting, or failed)",
        ));
    }
    let snapshot = build_snapshot(
        ctx.actor,
        ctx.grants,
        def,
        run,
        facts,
        user_message,
        ctx.now,
    )?;
    let mut next = bump(run, ctx.now);
    next.execution_state = ExecutionState::InProgress;
    next.attempt = run.attempt + 1;
    next.started_at = Some(ctx.now);
    next.attempt_started_at = Some(ctx.now);
    next.deadline_at = Some(deadline(ctx, &snapshot));
    next.run_thread_id = Some(thread_id);
    next.snapshot = Some(snapshot);
    next.error = None;
    next.failure = None;
    next.completed_at = None;
    let dispatch = dispatch_of(&next)?;
    let mut t = write(next, event);
    t.outbox.push(dispatch);
    Ok(Decision::write(t, ()))
}

/// Whether Start needs its catalog facts ([`StartFacts`]) read, after the refusals that need
/// none: field checks, permission (START-5, VIS-2) and state (START-2..4). `Ok(false)`: decide
/// with empty facts (START-2 answers unchanged).
pub fn start_needs_facts(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &StartRun,
) -> Result<bool> {
    cmd.validate()?;
    require_manage(ctx.access(run, def), run, "start")?;
    Ok(run.execution_state == ExecutionState::NotStarted)
}
