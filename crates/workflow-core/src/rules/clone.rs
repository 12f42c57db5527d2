use super::*;

/// Input of Clone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloneRun {
    /// CLONE-2.
    pub include_inputs: bool,
}

/// Clone (CLONE-1..4): checks the source and answers the new run's create command (the
/// engine then creates it as any Create: nothing is written for the source).
pub fn decide_clone(
    ctx: &Ctx<'_>,
    source: &Run,
    def: &Definition,
    cmd: CloneRun,
) -> Result<Decision<CreateRun>> {
    require_read(ctx.access(source, def), source)?;
    // Permission (CLONE-4 / CREATE-1) before state (CLONE-3), as VIS-2 orders every operation.
    check_can_create(ctx, def)?;
    let Some(snapshot) = &source.snapshot else {
        return Err(conflict(source, "the source run has no snapshot to clone"));
    };
    let input_scope = if cmd.include_inputs {
        snapshot
            .inputs
            .iter()
            .filter(|i| i.origin != crate::InputOrigin::DefinitionCommon)
            .map(|i| i.path_part_id)
            .collect()
    } else {
        Vec::new()
    };
    Ok(Decision::unchanged(CreateRun {
        name: None,
        input_scope,
        idempotency_key: None,
        auto_start: false,
        auto_start_user_message: None,
        selected_skill_ids: source.selected_skill_ids.clone(),
        uploads: Vec::new(),
    }))
}
