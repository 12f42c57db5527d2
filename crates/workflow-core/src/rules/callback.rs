use super::*;

/// Input of Callback (CB-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    /// The attempt's outcome.
    pub status: CallbackStatus,
    /// ≤ 8192 characters; stored on FAILED.
    pub error: Option<String>,
    /// The attempt it reports on; `None` means "the current one".
    pub attempt: Option<u32>,
}

impl Callback {
    /// Field checks, decided before the run is looked up (VIS-1).
    pub fn validate(&self) -> Result<()> {
        validate_len("error", self.error.as_deref(), MAX_ERROR_LEN)
    }
}

/// Callback (CB-1..7). The order of checks: fields, permission (CB-6), never started (CB-5),
/// stale attempt (CB-4), already terminal (CB-3), then the write (CB-1, CB-2, CB-7).
pub fn decide_callback(
    ctx: &Ctx<'_>,
    run: &Run,
    def: &Definition,
    cmd: &Callback,
) -> Result<Decision<CallbackOutcome>> {
    cmd.validate()?;
    require_manage(ctx.access(run, def), run, "report on")?;
    if matches!(
        run.execution_state,
        ExecutionState::Pending | ExecutionState::NotStarted
    ) {
        return Err(conflict(run, "the run was never started"));
    }
    if cmd.attempt.is_some_and(|a| a != run.attempt) {
        return Ok(Decision::unchanged(CallbackOutcome::StaleAttempt));
    }
    if run.execution_state.is_terminal() {
        return Ok(Decision::unchanged(CallbackOutcome::AlreadyTerminal));
    }
    let mut next = bump(run, ctx.now);
    next.completed_at = Some(ctx.now);
    next.deadline_at = None;
    let event = match cmd.status {
        CallbackStatus::Completed => {
            next.execution_state = ExecutionState::Completed;
            let required = run.snapshot.as_ref().is_some_and(|s| s.approval_required);
            next.approval_state = if required {
                ApprovalState::Pending
            } else {
                ApprovalState::NotRequired
            };
            Event::Completed
        }
        CallbackStatus::Failed => {
            next.execution_state = ExecutionState::Failed;
            next.error = Some(cmd.error.clone().unwrap_or_else(|| "Failed".to_owned()));
            next.failure = Some(FailureKind::Reported);
            Event::Failed
        }
    };
    let mut t = write(next, event);
    t.reason = cmd.error.clone();
    Ok(Decision::write(t, CallbackOutcome::Updated))
}
