use super::*;

/// START-1: NOT_STARTED → IN_PROGRESS with a snapshot, attempt 1, a thread, a dispatch.
#[test]
fn start_1_starts_and_dispatches() {
    let w = world();
    let run = w.draft();
    let started = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    assert_eq!(started.execution_state, ExecutionState::InProgress);
    assert_eq!(started.attempt, 1);
    assert!(started.snapshot.is_some() && started.run_thread_id.is_some());
    assert_eq!(started.started_at, Some(w.engine.now()));
    assert_eq!(
        w.dispatcher.dispatch_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
}

/// START-2: idempotent on IN_PROGRESS: unchanged, nothing dispatched.
#[test]
fn start_2_idempotent_when_running() {
    let w = world();
    let run = w.running();
    let again = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    assert_eq!(again, run);
    assert_eq!(w.dispatcher.dispatch_keys().len(), 1);
    assert_eq!(w.history(run.id).len(), 2);
}

/// START-3: COMPLETED or FAILED → conflict.
#[test]
fn start_3_terminal_conflicts() {
    let w = world();
    for s in [
        Setup::CompletedNotRequired,
        Setup::FailedAfterStart,
        Setup::FailedNeverStarted,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.start_run(&w.owner, run.id, StartRun::default())),
            ErrorCode::Conflict
        );
    }
}

/// START-4: PENDING, or a draft with an unsettled or failed upload → conflict.
#[test]
fn start_4_uploads_must_be_ingested() {
    let w = world();
    let pending = w.run_in(Setup::Pending);
    assert_eq!(
        code(
            w.engine
                .start_run(&w.owner, pending.id, StartRun::default())
        ),
        ErrorCode::Conflict
    );
    // An upload that failed without auto-start leaves the run NOT_STARTED, and Start refuses.
    let v = w.upload_version(&pending);
    let run = w
        .engine
        .set_upload_ingestion(w.tenant, v, Ingestion::Failed)
        .unwrap();
    assert_eq!(run.execution_state, ExecutionState::NotStarted);
    assert_eq!(
        code(w.engine.start_run(&w.owner, run.id, StartRun::default())),
        ErrorCode::Conflict
    );
}

/// START-5: triggerer or admin.
#[test]
fn start_5_triggerer_or_admin() {
    let w = world();
    let run = w.draft();
    assert_eq!(
        code(
            w.engine
                .start_run(&w.user_read_write, run.id, StartRun::default())
        ),
        ErrorCode::Forbidden
    );
    assert!(w
        .engine
        .start_run(&w.admin, run.id, StartRun::default())
        .is_ok());
}

/// START-6: inactive or template definition → conflict at Start.
#[test]
fn start_6_inactive_definition_conflicts() {
    let w = world();
    let run = w.draft();
    let mut def = w.def.clone();
    def.is_active = false;
    w.engine
        .store()
        .apply_catalog(&[CatalogWrite::Definition(Box::new(def))])
        .unwrap();
    assert_eq!(
        code(w.engine.start_run(&w.owner, run.id, StartRun::default())),
        ErrorCode::Conflict
    );
    assert_eq!(w.engine.get_run(&w.owner, run.id).unwrap(), run);
}

/// START-7: the user message (≤ 4000) is pinned into the snapshot.
#[test]
fn start_7_user_message_pinned() {
    let w = world();
    let run = w.draft();
    let long = StartRun {
        user_message: Some("x".repeat(4001)),
    };
    assert_eq!(
        code(w.engine.start_run(&w.owner, run.id, long)),
        ErrorCode::UnprocessableEntity
    );
    let msg = StartRun {
        user_message: Some("focus on Q3".into()),
    };
    let run = w.engine.start_run(&w.owner, run.id, msg).unwrap();
    assert_eq!(
        run.snapshot.unwrap().user_message.as_deref(),
        Some("focus on Q3")
    );
}

/// START-8: a vanished reference → conflict naming it; an unreadable one → forbidden; nothing
/// written either way.
#[test]
fn start_8_vanished_or_unreadable_reference() {
    let w = world();
    let gone = w
        .engine
        .put_part(
            w.tenant,
            PathPartId(uuid::Uuid::new_v4()),
            PathPartKind::Folder,
            "tmp",
            Some(w.eng.id),
        )
        .unwrap();
    let run = w
        .engine
        .create_run(
            &w.triggerer,
            w.def.id,
            CreateRun {
                input_scope: vec![gone.id],
                ..CreateRun::default()
            },
        )
        .unwrap();
    w.engine
        .store()
        .apply_catalog(&[CatalogWrite::RemovePart(w.tenant, gone.id)])
        .unwrap();
    let err = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains(&gone.id.to_string()), "{err}");
    // Readable at create, revoked before Start.
    let run2 = w
        .engine
        .create_run(
            &w.triggerer,
            w.def.id,
            CreateRun {
                input_scope: vec![w.doc.id],
                ..CreateRun::default()
            },
        )
        .unwrap();
    let mut u = w
        .engine
        .store()
        .user(w.tenant, w.triggerer.user_id)
        .unwrap()
        .unwrap();
    u.grants = vec![Grant {
        path: "/shared/eng/summarise".into(),
        capability: Capability::Read,
    }];
    w.engine.put_user(u).unwrap();
    assert_eq!(
        code(
            w.engine
                .start_run(&w.triggerer, run2.id, StartRun::default())
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(w.engine.get_run(&w.owner, run.id).unwrap(), run);
    assert_eq!(w.engine.get_run(&w.owner, run2.id).unwrap(), run2);
    assert!(w.dispatcher.dispatch_keys().is_empty());
}
