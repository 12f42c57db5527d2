//! The writes of a started run: stop (STOP-*), callback (CB-*), retry (RETRY-*).

use super::*;

// ================================================================================== stop

/// STOP-1: IN_PROGRESS → FAILED "Stopped by user" (kind Stopped), `completed_at` now, the
/// deadline cleared, and a cancel of the current attempt queued in the same transition.
#[test]
fn stop_1_fails_the_run_and_queues_a_cancel() {
    let run = Run {
        attempt: 2,
        ..running(true)
    };
    let d = decide_stop(&who("admin").ctx(), &run, &definition(true)).unwrap();
    let next = Run {
        execution_state: ExecutionState::Failed,
        version: 3,
        updated_at: now(),
        completed_at: Some(now()),
        deadline_at: None,
        error: Some("Stopped by user".into()),
        failure: Some(FailureKind::Stopped),
        ..run.clone()
    };
    let mut transition = put(next, Event::Stopped);
    transition.reason = Some("Stopped by user".into());
    transition.outbox = vec![OutboxMessage::Cancel(Cancel {
        key: DispatchKey {
            run_id: run.id,
            attempt: 2,
        },
        tenant_id: tenant(),
        reason: "Stopped by user".into(),
    })];
    assert_eq!(d, Decision::write(transition, ()));
    assert_eq!(STOPPED_BY_USER, "Stopped by user");
}

/// STOP-3: a run stranded IN_PROGRESS long past its deadline (its runner gone) is stopped the
/// same way, by its triggerer.
#[test]
fn stop_3_recovers_a_stranded_run() {
    let run = running(true);
    let later = run.deadline_at.unwrap() + Duration::days(3);
    let d = decide_stop(&who("triggerer").ctx_at(later), &run, &definition(true)).unwrap();
    let (t, ()) = change(d);
    let next = t.next().unwrap();
    assert_eq!(
        (next.execution_state, next.failure, next.completed_at),
        (
            ExecutionState::Failed,
            Some(FailureKind::Stopped),
            Some(later)
        )
    );
    assert_eq!(t.outbox.len(), 1);
}

/// STOP-2, STOP-4, VIS-1, VIS-2: Stop is idempotent on every other state, and its permission
/// is checked before the state.
#[test]
fn stop_2_and_4_idempotent_and_permission_first() {
    let def = definition(true);
    for run in [
        pending(),
        draft(),
        completed(true, ApprovalState::Pending),
        failed_after_start(),
        failed_never_started(),
    ] {
        assert_unchanged(decide_stop(&who("triggerer").ctx(), &run, &def), ());
        assert_eq!(
            code(decide_stop(&who("user_read_write").ctx(), &run, &def)),
            ErrorCode::Forbidden,
            "VIS-2 on {}",
            run.execution_state
        );
    }
    assert_eq!(
        code(decide_stop(&who("user_read").ctx(), &running(true), &def)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(decide_stop(
            &who("user_no_grant").ctx(),
            &running(true),
            &def
        )),
        ErrorCode::NotFound
    );
}

// ================================================================================== callback

fn cb(status: CallbackStatus, error: Option<&str>, attempt: Option<u32>) -> Callback {
    Callback {
        status,
        error: error.map(Into::into),
        attempt,
    }
}

/// CB-1, CB-2, CB-7: COMPLETED on a snapshot that requires approval → COMPLETED with approval
/// pending, `completed_at` now, the deadline cleared; answer `updated`.
#[test]
fn cb_2_completed_with_approval_required_is_pending() {
    let runner = who("triggerer_assumed");
    let run = running(true);
    let d = decide_callback(
        &runner.ctx(),
        &run,
        &definition(true),
        &cb(CallbackStatus::Completed, None, Some(1)),
    )
    .unwrap();
    let next = Run {
        execution_state: ExecutionState::Completed,
        approval_state: ApprovalState::Pending,
        version: 3,
        updated_at: now(),
        completed_at: Some(now()),
        deadline_at: None,
        ..run
    };
    assert_eq!(
        d,
        Decision::write(put(next, Event::Completed), CallbackOutcome::Updated)
    );
}

/// CB-2: the snapshot decides, not the definition as it is now: a snapshot without approval
/// gives `not_required` even when the definition has since started requiring it.
#[test]
fn cb_2_completed_without_approval_stays_not_required() {
    let run = running(false);
    let d = decide_callback(
        &who("triggerer").ctx(),
        &run,
        &definition(true),
        &cb(CallbackStatus::Completed, None, None),
    )
    .unwrap();
    let next = Run {
        execution_state: ExecutionState::Completed,
        approval_state: ApprovalState::NotRequired,
        version: 3,
        updated_at: now(),
        completed_at: Some(now()),
        deadline_at: None,
        ..run
    };
    assert_eq!(
        d,
        Decision::write(put(next, Event::Completed), CallbackOutcome::Updated)
    );
}

/// CB-1: FAILED stores the error (kind Reported) and records it as the reason.
#[test]
fn cb_1_failed_stores_the_error() {
    let run = running(true);
    let d = decide_callback(
        &who("admin").ctx(),
        &run,
        &definition(true),
        &cb(CallbackStatus::Failed, Some("boom"), Some(1)),
    )
    .unwrap();
    let next = Run {
        execution_state: ExecutionState::Failed,
        version: 3,
        updated_at: now(),
        completed_at: Some(now()),
        deadline_at: None,
        error: Some("boom".into()),
        failure: Some(FailureKind::Reported),
        ..run
    };
    let mut t = put(next, Event::Failed);
    t.reason = Some("boom".into());
    assert_eq!(d, Decision::write(t, CallbackOutcome::Updated));
}

/// CB-1: FAILED without an error text stores "Failed"; the history reason stays empty.
#[test]
fn cb_1_failed_without_error_defaults_to_failed() {
    let run = running(true);
    let d = decide_callback(
        &who("triggerer_assumed").ctx(),
        &run,
        &definition(true),
        &cb(CallbackStatus::Failed, None, None),
    )
    .unwrap();
    let next = Run {
        execution_state: ExecutionState::Failed,
        version: 3,
        updated_at: now(),
        completed_at: Some(now()),
        deadline_at: None,
        error: Some("Failed".into()),
        failure: Some(FailureKind::Reported),
        ..run
    };
    assert_eq!(
        d,
        Decision::write(put(next, Event::Failed), CallbackOutcome::Updated)
    );
}

/// CB-3: against a terminal run, whatever the status, nothing is written: `already_terminal`.
/// A run failed before it ever started (attempt 0) is terminal too.
#[test]
fn cb_3_terminal_run_answers_already_terminal() {
    let def = definition(true);
    for run in [
        completed(true, ApprovalState::Pending),
        completed(true, ApprovalState::Approved),
        failed_after_start(),
        failed_never_started(),
    ] {
        for status in [CallbackStatus::Completed, CallbackStatus::Failed] {
            assert_unchanged(
                decide_callback(
                    &who("triggerer_assumed").ctx(),
                    &run,
                    &def,
                    &cb(status, Some("late"), None),
                ),
                CallbackOutcome::AlreadyTerminal,
            );
        }
    }
}

/// CB-4: a callback of another attempt writes nothing: `stale_attempt`, also on a terminal run
/// (stale is checked before terminal).
#[test]
fn cb_4_stale_attempt_is_checked_before_terminal() {
    let def = definition(true);
    let retried = Run {
        attempt: 2,
        ..running(true)
    };
    let runner = who("triggerer_assumed");
    assert_unchanged(
        decide_callback(
            &runner.ctx(),
            &retried,
            &def,
            &cb(CallbackStatus::Completed, None, Some(1)),
        ),
        CallbackOutcome::StaleAttempt,
    );
    assert_unchanged(
        decide_callback(
            &runner.ctx(),
            &failed_after_start(),
            &def,
            &cb(CallbackStatus::Failed, None, Some(7)),
        ),
        CallbackOutcome::StaleAttempt,
    );
    // The current attempt, named explicitly, is not stale.
    assert_eq!(
        decide_callback(
            &runner.ctx(),
            &retried,
            &def,
            &cb(CallbackStatus::Completed, None, Some(2))
        )
        .unwrap()
        .answer,
        CallbackOutcome::Updated
    );
}

/// CB-5, CB-6, VIS-1, VIS-2 and the order of the callback's checks: fields, permission, never
/// started, stale, terminal. Each case breaks two rules at once; the earlier one answers.
#[test]
fn cb_5_and_6_order_of_checks() {
    let def = definition(true);
    let call = |w: &str, run: &Run, c: &Callback| decide_callback(&who(w).ctx(), run, &def, c);
    let too_long = "x".repeat(8193);
    // fields before permission
    assert_eq!(
        code(call(
            "user_no_grant",
            &running(true),
            &cb(CallbackStatus::Failed, Some(&too_long), None)
        )),
        ErrorCode::UnprocessableEntity
    );
    assert!(call(
        "triggerer",
        &running(true),
        &cb(CallbackStatus::Failed, Some(&"x".repeat(8192)), None)
    )
    .is_ok());
    // permission before never started: VIS-1 then CB-6
    assert_eq!(
        code(call(
            "other_tenant_owner",
            &draft(),
            &cb(CallbackStatus::Completed, None, None)
        )),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(call(
            "user_read_write",
            &pending(),
            &cb(CallbackStatus::Completed, None, None)
        )),
        ErrorCode::Forbidden
    );
    // permission before stale and terminal
    assert_eq!(
        code(call(
            "user_read",
            &failed_after_start(),
            &cb(CallbackStatus::Completed, None, Some(9))
        )),
        ErrorCode::Forbidden
    );
    // never started (CB-5) before stale
    for run in [draft(), pending()] {
        assert_eq!(
            code(call(
                "triggerer_assumed",
                &run,
                &cb(CallbackStatus::Completed, None, Some(3))
            )),
            ErrorCode::Conflict
        );
    }
}

// ================================================================================== retry

/// RETRY-1, SNAP-7: FAILED with a snapshot → IN_PROGRESS in place on the same snapshot and
/// thread: attempt + 1, a new attempt start and deadline (from the snapshot's duration, not the
/// definition's current one), error, failure and `completed_at` cleared, `started_at` kept, a
/// dispatch of the new attempt queued.
#[test]
fn retry_1_same_snapshot_next_attempt() {
    let run = Run {
        error: Some("Stopped by user".into()),
        failure: Some(FailureKind::Stopped),
        ..failed_after_start()
    };
    let shorter = Definition {
        max_run_duration_seconds: 60,
        ..definition(true)
    };
    let d = decide_retry(&who("triggerer").ctx(), &run, &shorter).unwrap();
    let next = Run {
        execution_state: ExecutionState::InProgress,
        attempt: 2,
        version: 4,
        updated_at: now(),
        attempt_started_at: Some(now()),
        deadline_at: Some(deadline_from(now())),
        error: None,
        failure: None,
        completed_at: None,
        ..run.clone()
    };
    assert_eq!(next.started_at, Some(started()));
    assert_eq!(next.snapshot, run.snapshot);
    let mut t = put(next.clone(), Event::Retried);
    t.outbox = vec![dispatch(&next)];
    assert_eq!(d, Decision::write(t, ()));
}

/// RETRY-2, RETRY-3, VIS-1, VIS-2: the refusals of Retry, permission before state.
#[test]
fn retry_2_and_3_refusals() {
    let def = definition(true);
    for run in [
        pending(),
        draft(),
        running(true),
        completed(true, ApprovalState::Pending),
        completed(false, ApprovalState::NotRequired),
        failed_never_started(),
    ] {
        assert_eq!(
            code(decide_retry(&who("owner").ctx(), &run, &def)),
            ErrorCode::Conflict,
            "{}",
            run.execution_state
        );
        assert_eq!(
            code(decide_retry(&who("user_read").ctx(), &run, &def)),
            ErrorCode::Forbidden
        );
    }
    assert_eq!(
        code(decide_retry(
            &who("user_read_write").ctx(),
            &failed_after_start(),
            &def
        )),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(decide_retry(
            &who("user_no_grant").ctx(),
            &failed_after_start(),
            &def
        )),
        ErrorCode::NotFound
    );
}

// ================================================================================= resume

/// RESUME-1: Retry's transition, but the history event is `resumed` and the dispatch says
/// `resume: true`; the thread is the run's surviving one.
#[test]
fn resume_1_new_attempt_with_resume_dispatch() {
    let run = failed_after_start();
    let def = definition(true);
    let ctx = who("triggerer");
    let (resumed, ()) = change(decide_resume(&ctx.ctx(), &run, &def).unwrap());
    let (retried, ()) = change(decide_retry(&ctx.ctx(), &run, &def).unwrap());
    assert_eq!(resumed.event, Event::Resumed);
    assert_eq!(resumed.write, retried.write);
    let [OutboxMessage::Dispatch(d)] = resumed.outbox.as_slice() else {
        panic!("one dispatch: {:?}", resumed.outbox)
    };
    assert!(d.resume);
    assert_eq!(d.run_thread_id, run.run_thread_id);
    let [OutboxMessage::Dispatch(r)] = retried.outbox.as_slice() else {
        panic!("one dispatch")
    };
    assert!(!r.resume);
    assert_eq!(
        Dispatch {
            resume: false,
            ..d.clone()
        },
        r.clone()
    );
}

/// RESUME-1 (RETRY-2, RETRY-3): the refusals of Resume are Retry's, permission before state.
#[test]
fn resume_1_refusals_are_retrys() {
    let def = definition(true);
    for run in [
        pending(),
        draft(),
        running(true),
        completed(true, ApprovalState::Pending),
        failed_never_started(),
        failed_after_start(),
    ] {
        for w in ACTORS {
            let a = decide_resume(&who(w).ctx(), &run, &def).map(change);
            let b = decide_retry(&who(w).ctx(), &run, &def).map(change);
            match (a, b) {
                (Ok((x, ())), Ok((y, ()))) => assert_eq!(x.write, y.write),
                (Err(x), Err(y)) => assert_eq!(x.code(), y.code(), "{w} {}", run.execution_state),
                (x, y) => panic!("{w}: resume {x:?} vs retry {y:?}"),
            }
        }
    }
}
