use super::*;

/// DELETE-1, DELETE-2: the refusals of Delete, decided before the engine reads the run's
/// folder subtree (permission before state, VIS-2).
pub fn check_delete(ctx: &Ctx<'_>, run: &Run, def: &Definition) -> Result<()> {
    require_manage(ctx.access(run, def), run, "delete")?;
    if run.execution_state == ExecutionState::InProgress {
        return Err(conflict(
            run,
            "an IN_PROGRESS run cannot be deleted; stop it first",
        ));
    }
    Ok(())
}

/// Delete (DELETE-1..3): the run and its whole folder go (`subtree`: the run folder's
/// descendants); the history stays.
pub fn decide_delete(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    subtree: &[PathPart],
) -> Result<Decision> {
    check_delete(ctx, run, def)?;
    let mut catalog: Vec<CatalogWrite> = subtree
        .iter()
        .rev()
        .map(|p| CatalogWrite::RemovePart(p.tenant_id, p.id))
        .collect();
    catalog.push(CatalogWrite::RemovePart(run.tenant_id, run.id.into()));
    let t = Transition {
        write: RunWrite::Delete,
        event: Event::Deleted,
        reason: None,
        outbox: vec![],
        catalog,
    };
    Ok(Decision::write(t, ()))
}
