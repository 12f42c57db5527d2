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
    Ok(deletion(run, subtree))
}

/// DEF-3: one run's deletion as part of its definition's (whoever may delete the definition
/// deletes its runs); an IN_PROGRESS run is `conflict` (DELETE-1), and the deletion is
/// recorded like any other (DELETE-3).
pub fn decide_delete_with_definition(run: &Run, subtree: &[PathPart]) -> Result<Decision> {
    if run.execution_state == ExecutionState::InProgress {
        return Err(conflict(
            run,
            "an IN_PROGRESS run of this definition cannot be deleted; stop it first",
        ));
    }
    Ok(deletion(run, subtree))
}

fn deletion(run: &Run, subtree: &[PathPart]) -> Decision {
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
    Decision::write(t, ())
}
