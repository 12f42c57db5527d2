use super::*;

/// GET-1: any reader.
pub fn decide_get(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    require_read(ctx.access(run, def), run)?;
    Ok(Decision::none())
}

/// THREAD-1: a new USER message on the run's thread is refused while it is IN_PROGRESS.
pub fn decide_thread_message(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<Decision> {
    require_read(ctx.access(run, def), run)?;
    if run.execution_state == ExecutionState::InProgress {
        return Err(Error::RunBusy);
    }
    Ok(Decision::none())
}
