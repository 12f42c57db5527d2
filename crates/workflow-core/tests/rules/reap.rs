use super::*;

/// REAP-1: past max duration + grace, an IN_PROGRESS run fails "Timed out", a cancel is queued,
/// and it can be retried.
#[test]
fn reap_1_times_out_and_retries() {
    let w = world();
    let run = w.running();
    w.clock.advance(Duration::seconds(600));
    assert!(
        w.engine.reap_expired().unwrap().is_empty(),
        "grace not yet over"
    );
    w.clock.advance(Duration::seconds(61));
    assert_eq!(w.engine.reap_expired().unwrap(), vec![run.id]);
    let r = w.engine.get_run(&w.owner, run.id).unwrap();
    assert_eq!(
        (r.execution_state, r.error.as_deref()),
        (ExecutionState::Failed, Some("Timed out"))
    );
    assert_eq!(
        w.dispatcher.cancel_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
    let retried = w.engine.retry_run(&w.triggerer, run.id).unwrap();
    assert_eq!(retried.attempt, 2);
    assert!(retried.deadline_at.unwrap() > w.engine.now());
}

/// REAP-2: reaping is idempotent and loses to a terminal write that came first.
#[test]
fn reap_2_idempotent() {
    let w = world();
    let a = w.running();
    let b = w.running();
    w.clock.advance(Duration::hours(1));
    w.engine
        .callback(&w.triggerer, b.id, cb(CallbackStatus::Completed, None))
        .unwrap();
    assert_eq!(w.engine.reap_expired().unwrap(), vec![a.id]);
    assert!(w.engine.reap_expired().unwrap().is_empty());
    assert_eq!(w.history(a.id).len(), 3);
    assert_eq!(
        w.engine.get_run(&w.owner, b.id).unwrap().execution_state,
        ExecutionState::Completed
    );
}

/// LIST-1: filters, order, pagination and visibility (the conformance suite covers each in
/// depth; this checks the engine's wiring end to end).
#[test]
fn list_1_listing() {
    let w = world();
    let a = w.draft();
    w.clock.advance(Duration::seconds(1));
    let b = w.running();
    let page = w
        .engine
        .list_runs(
            &w.user_read,
            ListRuns {
                limit: 1,
                ..ListRuns::default()
            },
        )
        .unwrap();
    assert_eq!((page.total, page.items[0].id), (2, b.id));
    let started = ListRuns {
        states: vec![ExecutionState::NotStarted],
        definition_id: Some(w.def.id),
        ..ListRuns::default()
    };
    assert_eq!(
        w.engine.list_runs(&w.triggerer, started).unwrap().items[0].id,
        a.id
    );
    assert_eq!(
        w.engine
            .list_runs(&w.user_no_grant, ListRuns::default())
            .unwrap()
            .total,
        0
    );
}
