use super::*;

/// RETRY-1: FAILED with a snapshot → IN_PROGRESS in place, same snapshot, attempt+1, error and
/// completed_at cleared, dispatch of the new attempt.
#[test]
fn retry_1_in_place_same_snapshot() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    w.clock.advance(Duration::seconds(30));
    let r = w.engine.retry_run(&w.triggerer, run.id).unwrap();
    assert_eq!(
        (r.execution_state, r.attempt),
        (ExecutionState::InProgress, 2)
    );
    assert_eq!(r.snapshot, run.snapshot);
    assert!(r.error.is_none() && r.completed_at.is_none());
    assert_eq!(
        r.started_at, run.started_at,
        "started_at is the first start"
    );
    assert_eq!(r.attempt_started_at, Some(w.engine.now()));
    assert_eq!(r.run_thread_id, run.run_thread_id);
    assert_eq!(
        w.dispatcher.dispatch_keys().last(),
        Some(&DispatchKey {
            run_id: run.id,
            attempt: 2
        })
    );
}

/// RETRY-2: drafts, COMPLETED, IN_PROGRESS and never-started FAILED runs → conflict.
#[test]
fn retry_2_other_states_conflict() {
    let w = world();
    for s in [
        Setup::Pending,
        Setup::NotStarted,
        Setup::InProgress,
        Setup::CompletedNotRequired,
        Setup::FailedNeverStarted,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.retry_run(&w.owner, run.id)),
            ErrorCode::Conflict,
            "{s:?}"
        );
    }
}

/// RETRY-3: triggerer or admin.
#[test]
fn retry_3_triggerer_or_admin() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    assert_eq!(
        code(w.engine.retry_run(&w.user_read_write, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.retry_run(&w.owner, run.id).is_ok());
}
