use super::*;

/// Deadline reaping (REAP-1, REAP-2): idempotent; anything but an expired IN_PROGRESS run is
/// left alone. `deadline_at` is the attempt's start + duration + grace, and REAP-1 reaps an
/// attempt that started *more than* duration + grace ago: strictly after the deadline. The
/// answer says whether this call reaped the run.
pub fn decide_reap(now: Timestamp, run: &Run) -> Result<Decision<bool>> {
    let expired = run.execution_state == ExecutionState::InProgress
        && run.deadline_at.is_some_and(|d| d < now);
    if !expired {
        return Ok(Decision::unchanged(false));
    }
    let next = fail(run, now, FailureKind::TimedOut, TIMED_OUT);
    let mut t = write(next, Event::TimedOut);
    t.reason = Some(TIMED_OUT.into());
    t.outbox.push(cancel_of(run, TIMED_OUT));
    Ok(Decision::write(t, true))
}
