use super::*;

/// STOP-1: IN_PROGRESS → FAILED "Stopped by user", completed_at set, cancel queued; a failing
/// dispatcher does not fail the stop.
#[test]
fn stop_1_fails_run_and_queues_cancel() {
    let w = world();
    let run = w.running();
    w.dispatcher.set_failing(true);
    let stopped = w.engine.stop_run(&w.triggerer, run.id).unwrap();
    assert_eq!(stopped.execution_state, ExecutionState::Failed);
    assert_eq!(stopped.error.as_deref(), Some("Stopped by user"));
    assert_eq!(stopped.completed_at, Some(w.engine.now()));
    let queued = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    assert!(
        matches!(&queued.last().unwrap().message, OutboxMessage::Cancel(c) if c.key.attempt == 1)
    );
    w.dispatcher.set_failing(false);
    w.clock.advance(chrono::Duration::minutes(10)); // past the failed try's backoff (DISP-4)
    w.engine.relay_outbox().unwrap();
    assert_eq!(
        w.dispatcher.cancel_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
}

/// STOP-2: terminal, NOT_STARTED and PENDING runs are returned unchanged.
#[test]
fn stop_2_idempotent() {
    let w = world();
    for s in [
        Setup::Pending,
        Setup::NotStarted,
        Setup::CompletedApprovalPending,
        Setup::FailedAfterStart,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            w.engine.stop_run(&w.triggerer, run.id).unwrap(),
            run,
            "{s:?}"
        );
        assert_eq!(
            w.engine.stop_run(&w.triggerer, run.id).unwrap(),
            run,
            "{s:?}"
        );
    }
}

/// STOP-3: a run stranded IN_PROGRESS (its runner gone, its dispatch never delivered) is
/// recovered by Stop.
#[test]
fn stop_3_recovers_stranded_run() {
    let w = world();
    w.dispatcher.set_failing(true);
    let run = w.running();
    assert!(w.dispatcher.dispatch_keys().is_empty(), "never delivered");
    let stopped = w.engine.stop_run(&w.owner, run.id).unwrap();
    assert_eq!(stopped.execution_state, ExecutionState::Failed);
    assert_eq!(w.engine.retry_run(&w.owner, run.id).unwrap().attempt, 2);
}

/// STOP-4: triggerer or admin.
#[test]
fn stop_4_triggerer_or_admin() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.stop_run(&w.user_read_write, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.stop_run(&w.admin, run.id).is_ok());
}
