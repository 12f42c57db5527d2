use super::*;

/// SYNC-1: a NOT_STARTED run with an unsettled upload becomes PENDING.
#[test]
fn sync_1_unsettled_upload_makes_pending() {
    let w = world();
    let run = w.draft();
    let (run, _) = w
        .engine
        .add_upload(
            &w.triggerer,
            run.id,
            NewUpload {
                name: "a.pdf".into(),
                ingestion: Ingestion::Pending,
            },
        )
        .unwrap();
    assert_eq!(run.execution_state, ExecutionState::Pending);
    let run2 = w.draft();
    let (run2, doc) = w
        .engine
        .add_upload(
            &w.triggerer,
            run2.id,
            NewUpload {
                name: "b.pdf".into(),
                ingestion: Ingestion::Completed,
            },
        )
        .unwrap();
    assert_eq!(run2.execution_state, ExecutionState::NotStarted);
    let v = w.engine.store().children(w.tenant, doc.id).unwrap()[0].id;
    let run2 = w
        .engine
        .set_upload_ingestion(w.tenant, v, Ingestion::Processing)
        .unwrap();
    assert_eq!(run2.execution_state, ExecutionState::Pending);
}

/// SYNC-2: all uploads completed → NOT_STARTED; with auto-start it starts as the triggerer with
/// the stored message.
#[test]
fn sync_2_settles_and_auto_starts() {
    let w = world();
    let plain = w.run_in(Setup::Pending);
    let v = w.upload_version(&plain);
    assert_eq!(
        w.engine
            .set_upload_ingestion(w.tenant, v, Ingestion::Completed)
            .unwrap()
            .execution_state,
        ExecutionState::NotStarted
    );

    let cmd = CreateRun {
        auto_start: true,
        auto_start_user_message: Some("auto".into()),
        uploads: vec![
            NewUpload {
                name: "a".into(),
                ingestion: Ingestion::Processing,
            },
            NewUpload {
                name: "b".into(),
                ingestion: Ingestion::Pending,
            },
        ],
        ..CreateRun::default()
    };
    let run = w.engine.create_run(&w.triggerer, w.def.id, cmd).unwrap();
    assert_eq!(run.execution_state, ExecutionState::Pending);
    let docs = w
        .engine
        .documents_in(w.tenant, run.folders.inputs_id)
        .unwrap();
    let versions: Vec<PathPartId> = docs
        .iter()
        .map(|d| w.engine.store().children(w.tenant, d.id).unwrap()[0].id)
        .collect();
    let r = w
        .engine
        .set_upload_ingestion(w.tenant, versions[0], Ingestion::Completed)
        .unwrap();
    assert_eq!(
        r.execution_state,
        ExecutionState::Pending,
        "one still ingesting"
    );
    let r = w
        .engine
        .set_upload_ingestion(w.tenant, versions[1], Ingestion::Completed)
        .unwrap();
    assert_eq!(
        (r.execution_state, r.attempt),
        (ExecutionState::InProgress, 1)
    );
    let snap = r.snapshot.unwrap();
    assert_eq!(snap.user_message.as_deref(), Some("auto"));
    assert_eq!(
        snap.inputs
            .iter()
            .filter(|i| i.origin == InputOrigin::RunUpload)
            .count(),
        2
    );
    assert!(w.dispatcher.dispatch_keys().contains(&DispatchKey {
        run_id: run.id,
        attempt: 1
    }));
}

/// SYNC-3: a failed upload, once all settled: FAILED naming it with auto-start, else NOT_STARTED.
#[test]
fn sync_3_failed_upload() {
    let w = world();
    let failed = w.run_in(Setup::FailedNeverStarted);
    assert_eq!(failed.execution_state, ExecutionState::Failed);
    assert!(
        failed.error.as_deref().unwrap().contains("upload.txt"),
        "{:?}",
        failed.error
    );
    assert!(failed.snapshot.is_none());
    let plain = w.run_in(Setup::Pending);
    let v = w.upload_version(&plain);
    assert_eq!(
        w.engine
            .set_upload_ingestion(w.tenant, v, Ingestion::Failed)
            .unwrap()
            .execution_state,
        ExecutionState::NotStarted
    );
}

/// SYNC-4: IN_PROGRESS and terminal runs do not change state on ingestion news.
#[test]
fn sync_4_no_effect_after_start() {
    let w = world();
    let run = w.draft();
    let (_, doc) = w
        .engine
        .add_upload(
            &w.triggerer,
            run.id,
            NewUpload {
                name: "a".into(),
                ingestion: Ingestion::Completed,
            },
        )
        .unwrap();
    let run = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    let v = w.engine.store().children(w.tenant, doc.id).unwrap()[0].id;
    let after = w
        .engine
        .set_upload_ingestion(w.tenant, v, Ingestion::Processing)
        .unwrap();
    assert_eq!(after.execution_state, ExecutionState::InProgress);
    assert_eq!(after.snapshot, run.snapshot);
    assert_eq!(
        code(w.engine.add_upload(
            &w.triggerer,
            run.id,
            NewUpload {
                name: "late".into(),
                ingestion: Ingestion::Completed
            }
        )),
        ErrorCode::Conflict
    );
}

/// THREAD-1: USER messages are refused with run_busy while IN_PROGRESS, accepted otherwise.
#[test]
fn thread_1_gate() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.check_thread_message(&w.user_read, run.id)),
        ErrorCode::RunBusy
    );
    w.engine.stop_run(&w.owner, run.id).unwrap();
    assert!(w.engine.check_thread_message(&w.user_read, run.id).is_ok());
}
