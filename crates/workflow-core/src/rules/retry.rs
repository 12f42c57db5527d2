use super::*;

/// Retry (RETRY-1..3): in place, same snapshot, new attempt. The thread stays the same.
pub fn decide_retry(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    require_manage(ctx.access(run, def), run, "retry")?;
    let snapshot = match (&run.execution_state, &run.snapshot) {
        (ExecutionState::Failed, Some(s)) => s,
        (ExecutionState::Failed, None) => {
            return Err(conflict(run, "a run that never started cannot be retried"))
        }
        (s, _) => return Err(conflict(run, format!("a {s} run cannot be retried"))),
    };
    let mut next = bump(run, ctx.now);
    next.execution_state = ExecutionState::InProgress;
    next.attempt = run.attempt + 1;
    next.attempt_started_at = Some(ctx.now);
    next.deadline_at = Some(deadline(ctx, snapshot));
    next.error = None;
    next.failure = None;
    next.completed_at = None;
    let dispatch = dispatch_of(&next)?;
    let mut t = write(next, Event::Retried);
    t.outbox.push(dispatch);
    Ok(Decision::write(t, ()))
}
