use super::*;

/// CB-1: COMPLETED/FAILED terminal write with completed_at and the error; error ≤ 8192.
#[test]
fn cb_1_terminal_write() {
    let w = world();
    let run = w.running();
    let long = Callback {
        status: CallbackStatus::Failed,
        error: Some("e".repeat(8193)),
        attempt: None,
    };
    assert_eq!(
        code(w.engine.callback(&w.triggerer, run.id, long)),
        ErrorCode::UnprocessableEntity
    );
    let r = w
        .engine
        .callback(
            &w.triggerer.clone().assumed(),
            run.id,
            cb(CallbackStatus::Failed, Some(1)),
        )
        .unwrap();
    assert_eq!(r.run.execution_state, ExecutionState::Failed);
    assert_eq!(r.run.error.as_deref(), Some("boom"));
    assert_eq!(r.run.completed_at, Some(w.engine.now()));
}

/// CB-2: COMPLETED sets approval pending when the snapshot requires it, else not_required.
#[test]
fn cb_2_approval_pending_when_required() {
    let w = world();
    assert_eq!(
        w.run_in(Setup::CompletedApprovalPending).approval_state,
        ApprovalState::Pending
    );
    assert_eq!(
        w.run_in(Setup::CompletedNotRequired).approval_state,
        ApprovalState::NotRequired
    );
}

/// CB-3: against a terminal run nothing is written and the answer is already_terminal.
#[test]
fn cb_3_first_terminal_writer_wins() {
    let w = world();
    let run = w.run_in(Setup::CompletedNotRequired);
    let r = w
        .engine
        .callback(&w.triggerer, run.id, cb(CallbackStatus::Failed, None))
        .unwrap();
    assert_eq!(r.outcome, CallbackOutcome::AlreadyTerminal);
    assert_eq!(r.run, run);
}

/// CB-4: a stale attempt writes nothing: a late attempt-1 callback cannot finish attempt 2.
#[test]
fn cb_4_stale_attempt_ignored() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    let retried = w.engine.retry_run(&w.triggerer, run.id).unwrap();
    assert_eq!(retried.attempt, 2);
    let late = w
        .engine
        .callback(&w.triggerer, run.id, cb(CallbackStatus::Completed, Some(1)))
        .unwrap();
    assert_eq!(late.outcome, CallbackOutcome::StaleAttempt);
    assert_eq!(late.run, retried);
    let now = w
        .engine
        .callback(&w.triggerer, run.id, cb(CallbackStatus::Completed, Some(2)))
        .unwrap();
    assert_eq!(now.outcome, CallbackOutcome::Updated);
}

/// CB-5: a run never started → conflict.
#[test]
fn cb_5_never_started_conflicts() {
    let w = world();
    for s in [Setup::Pending, Setup::NotStarted] {
        let run = w.run_in(s);
        assert_eq!(
            code(
                w.engine
                    .callback(&w.triggerer, run.id, cb(CallbackStatus::Completed, None))
            ),
            ErrorCode::Conflict
        );
    }
}

/// CB-6: only the triggerer (assumed or not) or an admin.
#[test]
fn cb_6_triggerer_or_admin() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.callback(
            &w.user_read_write,
            run.id,
            cb(CallbackStatus::Completed, None)
        )),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.engine.callback(
            &w.user_read.clone().assumed(),
            run.id,
            cb(CallbackStatus::Completed, None)
        )),
        ErrorCode::Forbidden
    );
    assert!(w
        .engine
        .callback(
            &w.triggerer.clone().assumed(),
            run.id,
            cb(CallbackStatus::Completed, None)
        )
        .is_ok());
}

/// CB-7: a successful write answers updated.
#[test]
fn cb_7_updated() {
    let w = world();
    let run = w.running();
    let r = w
        .engine
        .callback(&w.admin, run.id, cb(CallbackStatus::Completed, None))
        .unwrap();
    assert_eq!(r.outcome, CallbackOutcome::Updated);
    assert_eq!(r.outcome.as_str(), "updated");
}
