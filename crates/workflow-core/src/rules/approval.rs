use super::*;

/// Input of Approval (APPROVE-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approve {
    /// Must be `approved`.
    pub state: ApprovalState,
    /// ≤ 2048 characters.
    pub reason: Option<String>,
}

impl Approve {
    /// APPROVE-1 field checks, decided before the run is looked up (VIS-1).
    pub fn validate(&self) -> Result<()> {
        if self.state != ApprovalState::Approved {
            return Err(Error::invalid("state", "must be \"approved\""));
        }
        validate_len("reason", self.reason.as_deref(), MAX_REASON_LEN)
    }
}

/// Approval (APPROVE-1..5): every output document (`outputs`: the documents under the run's
/// `outputs/`, read when [`approve_needs_outputs`]), then the run, in one commit.
pub fn decide_approve(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &Approve,
    outputs: &[PathPart],
) -> Result<Decision> {
    cmd.validate()?;
    let access = ctx.access(run, def);
    require_read(access, run)?;
    if !access.approve {
        return Err(Error::forbidden(if ctx.actor.assumed {
            "an agent acting for a user may never approve"
        } else {
            "approval needs write access to the run folder"
        }));
    }
    if run.approval_state == ApprovalState::Approved {
        return Ok(Decision::none());
    }
    let required = run.snapshot.as_ref().is_some_and(|s| s.approval_required);
    if run.execution_state != ExecutionState::Completed || !required {
        return Err(conflict(
            run,
            "only a COMPLETED run that requires approval can be approved",
        ));
    }
    let record = ApprovalRecord {
        by: ctx.actor.user_id,
        at: ctx.now,
        reason: cmd.reason.clone(),
    };
    let catalog = outputs
        .iter()
        .filter(|p| p.kind == PathPartKind::Document)
        .map(|p| {
            let mut p = p.clone();
            p.approval_state = ApprovalState::Approved;
            p.approval = Some(record.clone());
            CatalogWrite::PutPart(Box::new(p))
        })
        .collect();
    let mut next = bump(run, ctx.now);
    next.approval_state = ApprovalState::Approved;
    next.approval = Some(record);
    let mut t = write(next, Event::Approved);
    t.reason = cmd.reason.clone();
    t.catalog = catalog;
    Ok(Decision::write(t, ()))
}

/// Whether Approve needs the run's output documents read: only a COMPLETED run can be approved.
pub fn approve_needs_outputs(run: &Run) -> bool {
    run.execution_state == ExecutionState::Completed
}
