use super::*;

/// Stop (STOP-1..4): a pure store write; the cancel is queued, best effort.
pub fn decide_stop(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    require_manage(ctx.access(run, def), run, "stop")?;
    if run.execution_state != ExecutionState::InProgress {
        return Ok(Decision::none());
    }
    let next = fail(run, ctx.now, FailureKind::Stopped, STOPPED_BY_USER);
    let mut t = write(next, Event::Stopped);
    t.reason = Some(STOPPED_BY_USER.into());
    t.outbox.push(cancel_of(run, STOPPED_BY_USER));
    Ok(Decision::write(t, ()))
}
