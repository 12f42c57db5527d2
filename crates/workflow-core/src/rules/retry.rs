use super::*;

/// Retry (RETRY-1..3): in place, same snapshot, new attempt. The thread stays the same.
pub fn decide_retry(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    new_attempt(ctx, run, def, ("retry", "retried"), Event::Retried)
}

/// Resume (RESUME-1): Retry's guards and permissions, but the dispatch says `resume: true`, so
/// the runner continues from the run's surviving thread instead of starting cold, and the
/// history event is `resumed`.
pub fn decide_resume(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    new_attempt(ctx, run, def, ("resume", "resumed"), Event::Resumed)
}

fn new_attempt(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    (op, verb): (&str, &str),
    event: Event,
) -> Result<Decision> {
    require_manage(ctx.access(run, def), run, op)?;
    let snapshot = match (&run.execution_state, &run.snapshot) {
        (ExecutionState::Failed, Some(s)) => s,
        (ExecutionState::Failed, None) => {
            return Err(conflict(
                run,
                format!("a run that never started cannot be {verb}"),
            ))
        }
        (s, _) => return Err(conflict(run, format!("a {s} run cannot be {verb}"))),
    };
    let mut next = bump(run, ctx.now);
    next.execution_state = ExecutionState::InProgress;
    next.attempt = run.attempt + 1;
    next.attempt_started_at = Some(ctx.now);
    next.deadline_at = Some(deadline(ctx, snapshot));
    next.error = None;
    next.failure = None;
    next.completed_at = None;
    let mut dispatch = dispatch_of(&next)?;
    if let OutboxMessage::Dispatch(d) = &mut dispatch {
        d.resume = event == Event::Resumed;
    }
    let mut t = write(next, event);
    t.outbox.push(dispatch);
    Ok(Decision::write(t, ()))
}
