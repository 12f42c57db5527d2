//! Uploads, ingestion sync (SYNC-*), outputs and the deadline reaper (REAP-*).

use super::*;

fn upload_doc(n: u128, name: &str) -> PathPart {
    part(
        n,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/{name}"),
        Some(INPUTS),
    )
}

// ================================================================================== add_upload

/// SYNC-1: an unsettled upload added to a NOT_STARTED run makes it PENDING; the DOCUMENT and its
/// active version are written with it; the answer is the DOCUMENT.
#[test]
fn sync_1_add_unsettled_upload_makes_the_draft_pending() {
    let t = who("triggerer");
    let upload = NewUpload {
        name: "a.txt".into(),
        ingestion: Ingestion::Processing,
    };
    let d = decide_add_upload(
        &t.ctx(),
        &draft(),
        &definition(true),
        &upload,
        &inputs_folder(),
        &[],
        (uid(210), uid(211)),
    )
    .unwrap();
    let mut doc = upload_doc(210, "a.txt");
    doc.created_at = now();
    let mut v = version_of(211, &doc, Ingestion::Processing, true);
    v.created_at = now();
    let next = Run {
        execution_state: ExecutionState::Pending,
        version: 2,
        updated_at: now(),
        ..draft()
    };
    let mut tr = put(next, Event::UploadAdded);
    tr.catalog = vec![put_part(doc.clone()), put_part(v)];
    assert_eq!(d, Decision::write(tr, doc));
}

/// SPEC section 2: a settled upload leaves the draft's state as it is (NOT_STARTED stays,
/// PENDING stays while the others ingest).
#[test]
fn add_settled_upload_keeps_the_state() {
    let t = who("owner");
    for run in [draft(), pending()] {
        let upload = NewUpload {
            name: "b.txt".into(),
            ingestion: Ingestion::Completed,
        };
        let (tr, doc) = change(
            decide_add_upload(
                &t.ctx(),
                &run,
                &definition(true),
                &upload,
                &inputs_folder(),
                &[],
                (uid(212), uid(213)),
            )
            .unwrap(),
        );
        assert_eq!(doc.path, format!("{RUN_PATH}/inputs/b.txt"));
        let expected = Run {
            version: 2,
            updated_at: now(),
            ..run.clone()
        };
        assert_eq!(tr.next(), Some(&expected));
    }
}

/// Uploads go only to drafts, with a unique valid name, by the triggerer or an admin (VIS-2:
/// permission first).
#[test]
fn add_upload_refusals() {
    let def = definition(true);
    let add = |w: &str, run: &Run, name: &str, existing: &[UploadStatus]| {
        decide_add_upload(
            &who(w).ctx(),
            run,
            &def,
            &NewUpload {
                name: name.into(),
                ingestion: Ingestion::Pending,
            },
            &inputs_folder(),
            existing,
            (uid(210), uid(211)),
        )
    };
    for run in [
        running(true),
        completed(true, ApprovalState::Pending),
        failed_never_started(),
    ] {
        assert_eq!(
            code(add("triggerer", &run, "a.txt", &[])),
            ErrorCode::Conflict
        );
        assert_eq!(
            code(add("user_read_write", &run, "a.txt", &[])),
            ErrorCode::Forbidden
        );
    }
    let existing = [UploadStatus {
        name: "a.txt".into(),
        version_id: pid(211),
        ingestion: Ingestion::Completed,
    }];
    assert_eq!(
        code(add("triggerer", &draft(), "a.txt", &existing)),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(add("triggerer", &draft(), "a/b", &[])),
        ErrorCode::UnprocessableEntity
    );
    assert_eq!(
        code(add("user_no_grant", &draft(), "a.txt", &[])),
        ErrorCode::NotFound
    );
}

// ================================================================================== ingestion

/// The upload `a.txt` of the fixture run, its version at `ingestion`.
fn upload_version(ingestion: Ingestion) -> PathPart {
    version_of(211, &upload_doc(210, "a.txt"), ingestion, true)
}

fn ingestion_facts(ingestion: Ingestion, triggerer: Option<User>) -> IngestionFacts {
    IngestionFacts {
        version: upload_version(ingestion),
        uploads: vec![UploadStatus {
            name: "a.txt".into(),
            version_id: pid(211),
            ingestion,
        }],
        start: StartFacts {
            instruction: Some(resolved_doc(
                &instruction_doc(),
                Some(&instruction_version()),
            )),
            scope: vec![],
            uploads: vec![resolved_doc(
                &upload_doc(210, "a.txt"),
                Some(&upload_version(ingestion)),
            )],
            common: vec![],
        },
        triggerer,
    }
}

fn ingest(run: &Run, def: &Definition, status: Ingestion, facts: &IngestionFacts) -> Decision {
    decide_ingestion(now(), grace(), run, def, status, facts, uid(THREAD)).unwrap()
}

/// The version write of an ingestion change to `status`.
fn version_write(status: Ingestion) -> CatalogWrite {
    put_part(upload_version(status))
}

/// SYNC-2 (auto-start not armed): a PENDING run whose uploads are all completed becomes
/// NOT_STARTED; the version's new status is written with it.
#[test]
fn sync_2_settled_pending_run_becomes_not_started() {
    let facts = ingestion_facts(Ingestion::Processing, Some(who("triggerer").user()));
    let d = ingest(&pending(), &definition(true), Ingestion::Completed, &facts);
    let next = Run {
        execution_state: ExecutionState::NotStarted,
        version: 2,
        updated_at: now(),
        ..pending()
    };
    let mut t = put(next, Event::IngestionChanged);
    t.catalog = vec![version_write(Ingestion::Completed)];
    assert_eq!(d, Decision::write(t, ()));
    assert!(!ingestion_wants_start(&pending()));
}

/// SYNC-2 with auto-start armed: the run starts at once as its triggerer with the stored
/// message (START-1 as a whole: snapshot with the upload pinned RUN_UPLOAD, attempt 1, thread,
/// deadline, dispatch), the version write first in the same transition, reason "auto-start".
#[test]
fn sync_2_auto_start_starts_as_the_triggerer() {
    let run = Run {
        auto_start: true,
        auto_start_user_message: Some("auto go".into()),
        ..pending()
    };
    assert!(ingestion_wants_start(&run));
    let facts = ingestion_facts(Ingestion::Processing, Some(who("triggerer").user()));
    let d = ingest(&run, &definition(true), Ingestion::Completed, &facts);

    let v = instruction_version();
    let snapshot = Snapshot {
        workflow_name: "summarise".into(),
        max_run_duration_seconds: 1800,
        approval_required: true,
        instruction: InstructionSnapshot {
            path_part_id: Some(pid(INSTRUCTION_V)),
            materialized_path: v.path.clone(),
            source: Some(format!("kb://{}/{}", tenant(), uid(INSTRUCTION_V))),
        },
        inputs: vec![InputSnapshot {
            path_part_id: pid(211),
            materialized_path: format!("{RUN_PATH}/inputs/a.txt/{}", uid(211)),
            part_type: PathPartKind::DocumentVersion,
            origin: InputOrigin::RunUpload,
        }],
        excluded_common_files: vec![],
        user_message: Some("auto go".into()),
        selected_skill_ids: vec![uid(SKILL_1)],
        created_at: now(),
    };
    let next = Run {
        execution_state: ExecutionState::InProgress,
        attempt: 1,
        version: 2,
        updated_at: now(),
        started_at: Some(now()),
        attempt_started_at: Some(now()),
        deadline_at: Some(deadline_from(now())),
        run_thread_id: Some(uid(THREAD)),
        snapshot: Some(snapshot.clone()),
        ..run.clone()
    };
    let mut t = put(next, Event::Started);
    t.reason = Some("auto-start".into());
    t.catalog = vec![version_write(Ingestion::Completed)];
    t.outbox = vec![OutboxMessage::Dispatch(Dispatch {
        key: DispatchKey {
            run_id: RunId(uid(RUN)),
            attempt: 1,
        },
        tenant_id: tenant(),
        definition_id: Some(DefinitionId(uid(DEF))),
        resume: false,
        triggered_by: user_id(TRIGGERER),
        run_thread_id: Some(uid(THREAD)),
        snapshot,
        deadline_at: Some(deadline_from(now())),
    })];
    assert_eq!(d, Decision::write(t, ()));
}

/// SYNC-2, START-6: an auto-start that Start refuses leaves the run NOT_STARTED, writes the
/// version, and records the refusal as the history reason; nothing is dispatched.
#[test]
fn sync_2_refused_auto_start_stays_not_started_with_a_reason() {
    let run = Run {
        auto_start: true,
        ..pending()
    };
    let inactive = Definition {
        is_active: false,
        ..definition(true)
    };
    let facts = ingestion_facts(Ingestion::Processing, Some(who("triggerer").user()));
    let d = ingest(&run, &inactive, Ingestion::Completed, &facts);
    let next = Run {
        execution_state: ExecutionState::NotStarted,
        version: 2,
        updated_at: now(),
        ..run.clone()
    };
    let mut t = put(next, Event::IngestionChanged);
    t.reason = Some(
        "auto-start refused: conflict: the workflow definition is inactive or a template".into(),
    );
    t.catalog = vec![version_write(Ingestion::Completed)];
    assert_eq!(d, Decision::write(t, ()));
}

/// SYNC-2, START-8: a triggerer who no longer exists acts as a plain USER without grants: a
/// scope reference it cannot read refuses the auto-start (recorded), while the same run with an
/// OWNER triggerer starts.
#[test]
fn sync_2_vanished_triggerer_acts_as_a_plain_user() {
    let reference = part(190, PathPartKind::Folder, "/shared/eng/data", Some(ENG));
    let run = Run {
        auto_start: true,
        input_scope: vec![pid(190)],
        ..pending()
    };
    let mut facts = ingestion_facts(Ingestion::Processing, None);
    facts.start.scope = vec![resolved(&reference)];
    let d = ingest(&run, &definition(true), Ingestion::Completed, &facts);
    let (t, ()) = change(d);
    assert_eq!(
        t.next().map(|r| r.execution_state),
        Some(ExecutionState::NotStarted)
    );
    assert_eq!(t.event, Event::IngestionChanged);
    assert_eq!(
        t.reason,
        Some(format!(
            "auto-start refused: forbidden: input {} is not readable by the starter",
            uid(190)
        ))
    );
    assert_eq!(t.outbox, vec![]);

    // The grants are the triggerer's own: with them (a read grant on /shared/eng) it starts.
    let facts = IngestionFacts {
        triggerer: Some(who("triggerer").user()),
        ..facts
    };
    let (t, ()) = change(ingest(
        &run,
        &definition(true),
        Ingestion::Completed,
        &facts,
    ));
    assert_eq!(t.event, Event::Started);
    assert_eq!(
        t.next().unwrap().snapshot.as_ref().unwrap().inputs[0].path_part_id,
        pid(190)
    );
}

/// SYNC-3 with auto-start armed: a failed upload, once all are settled, fails the run (error
/// naming the upload, kind UploadFailed, `completed_at` now); event Failed with that reason.
#[test]
fn sync_3_failed_upload_with_auto_start_fails_the_run() {
    let run = Run {
        auto_start: true,
        ..pending()
    };
    let facts = ingestion_facts(Ingestion::Processing, Some(who("triggerer").user()));
    let d = ingest(&run, &definition(true), Ingestion::Failed, &facts);
    let error = "Upload \"a.txt\" failed to ingest".to_owned();
    let next = Run {
        execution_state: ExecutionState::Failed,
        version: 2,
        updated_at: now(),
        completed_at: Some(now()),
        deadline_at: None,
        error: Some(error.clone()),
        failure: Some(FailureKind::UploadFailed),
        ..run.clone()
    };
    let mut t = put(next, Event::Failed);
    t.reason = Some(error);
    t.catalog = vec![version_write(Ingestion::Failed)];
    assert_eq!(d, Decision::write(t, ()));
}

/// SYNC-3 without auto-start: the run becomes NOT_STARTED (Start then refuses, START-4).
#[test]
fn sync_3_failed_upload_without_auto_start_is_not_started() {
    let facts = ingestion_facts(Ingestion::Processing, None);
    let d = ingest(&pending(), &definition(true), Ingestion::Failed, &facts);
    let next = Run {
        execution_state: ExecutionState::NotStarted,
        version: 2,
        updated_at: now(),
        ..pending()
    };
    let mut t = put(next, Event::IngestionChanged);
    t.catalog = vec![version_write(Ingestion::Failed)];
    assert_eq!(d, Decision::write(t, ()));
}

/// SYNC-3 "once every upload is settled": a failure while another upload still ingests keeps
/// the run PENDING, auto-start or not.
#[test]
fn sync_3_waits_until_every_upload_is_settled() {
    for auto_start in [false, true] {
        let run = Run {
            auto_start,
            ..pending()
        };
        let mut facts = ingestion_facts(Ingestion::Processing, Some(who("triggerer").user()));
        facts.uploads.push(UploadStatus {
            name: "b.txt".into(),
            version_id: pid(213),
            ingestion: Ingestion::Processing,
        });
        let (t, ()) = change(ingest(&run, &definition(true), Ingestion::Failed, &facts));
        let expected = Run {
            version: 2,
            updated_at: now(),
            ..run.clone()
        };
        assert_eq!(t.next(), Some(&expected));
        assert_eq!((t.event, t.reason), (Event::IngestionChanged, None));
    }
}

/// SYNC-1: a NOT_STARTED run whose upload becomes unsettled again becomes PENDING.
#[test]
fn sync_1_unsettled_upload_makes_a_draft_pending() {
    let facts = ingestion_facts(Ingestion::Completed, None);
    let d = ingest(&draft(), &definition(true), Ingestion::Processing, &facts);
    let next = Run {
        execution_state: ExecutionState::Pending,
        version: 2,
        updated_at: now(),
        ..draft()
    };
    let mut t = put(next, Event::IngestionChanged);
    t.catalog = vec![version_write(Ingestion::Processing)];
    assert_eq!(d, Decision::write(t, ()));
}

/// SYNC-1, SYNC-3: a NOT_STARTED run whose upload moves between settled statuses (completed →
/// failed) stays NOT_STARTED, auto-start or not: only an unsettled upload makes it PENDING, and
/// a draft is never failed by ingestion (Start refuses it instead, START-4).
#[test]
fn sync_1_settled_change_keeps_a_draft_not_started() {
    for auto_start in [false, true] {
        let run = Run {
            auto_start,
            ..draft()
        };
        let facts = ingestion_facts(Ingestion::Completed, Some(who("triggerer").user()));
        let d = ingest(&run, &definition(true), Ingestion::Failed, &facts);
        let next = Run {
            version: 2,
            updated_at: now(),
            ..run.clone()
        };
        let mut t = put(next, Event::IngestionChanged);
        t.catalog = vec![version_write(Ingestion::Failed)];
        assert_eq!(d, Decision::write(t, ()));
    }
}

/// SYNC-4: on IN_PROGRESS or terminal runs the state, attempt and every other field stay; only
/// the version's status is recorded (with a history record of the change).
#[test]
fn sync_4_started_runs_keep_their_state() {
    for run in [
        running(true),
        completed(true, ApprovalState::Pending),
        failed_after_start(),
        failed_never_started(),
    ] {
        let facts = ingestion_facts(Ingestion::Processing, Some(who("triggerer").user()));
        let d = ingest(&run, &definition(true), Ingestion::Completed, &facts);
        let next = Run {
            version: run.version + 1,
            updated_at: now(),
            ..run.clone()
        };
        let mut t = put(next, Event::IngestionChanged);
        t.catalog = vec![version_write(Ingestion::Completed)];
        assert_eq!(d, Decision::write(t, ()), "{}", run.execution_state);
    }
}

/// SYNC-*: the same status again changes nothing at all; a part that is not a version is
/// refused.
#[test]
fn sync_same_status_is_no_change() {
    for run in [pending(), draft(), running(true)] {
        let facts = ingestion_facts(Ingestion::Processing, None);
        assert_unchanged(
            decide_ingestion(
                now(),
                grace(),
                &run,
                &definition(true),
                Ingestion::Processing,
                &facts,
                uid(THREAD),
            ),
            (),
        );
    }
    let facts = IngestionFacts {
        version: upload_doc(210, "a.txt"),
        ..ingestion_facts(Ingestion::Processing, None)
    };
    assert_eq!(
        code(decide_ingestion(
            now(),
            grace(),
            &pending(),
            &definition(true),
            Ingestion::Completed,
            &facts,
            uid(THREAD)
        )),
        ErrorCode::UnprocessableEntity
    );
}

// ================================================================================== add_output

/// An output written by the runner (the triggerer, assumed) into `outputs/` of an IN_PROGRESS
/// run: a DOCUMENT pending approval when the snapshot requires it (APPROVE-3 later approves
/// it), with one completed active version; the run's version moves, nothing else.
#[test]
fn add_output_writes_the_document_pending_approval() {
    let runner = who("triggerer_assumed");
    let run = running(true);
    let d = decide_add_output(
        &runner.ctx(),
        &run,
        &definition(true),
        "report.md",
        &outputs_folder(),
        &[],
        (uid(220), uid(221)),
    )
    .unwrap();
    let mut doc = part(
        220,
        PathPartKind::Document,
        &format!("{RUN_PATH}/outputs/report.md"),
        Some(OUTPUTS),
    );
    doc.created_at = now();
    doc.approval_state = ApprovalState::Pending;
    let mut v = version_of(221, &doc, Ingestion::Completed, true);
    v.created_at = now();
    let next = Run {
        version: 3,
        updated_at: now(),
        ..run
    };
    let mut t = put(next, Event::OutputAdded);
    t.catalog = vec![put_part(doc.clone()), put_part(v)];
    assert_eq!(d, Decision::write(t, doc));
}

/// Outputs of a run whose snapshot needs no approval are `not_required`; outputs are written
/// only while IN_PROGRESS, once per name, by the triggerer or an admin.
#[test]
fn add_output_approval_and_refusals() {
    let def = definition(false);
    let add = |w: &str, run: &Run, name: &str, existing: &[PathPart]| {
        decide_add_output(
            &who(w).ctx(),
            run,
            &def,
            name,
            &outputs_folder(),
            existing,
            (uid(220), uid(221)),
        )
    };
    let (_, doc) = change(add("admin", &running(false), "r.md", &[]).unwrap());
    assert_eq!(doc.approval_state, ApprovalState::NotRequired);
    for run in [
        draft(),
        pending(),
        completed(false, ApprovalState::NotRequired),
    ] {
        assert_eq!(
            code(add("triggerer_assumed", &run, "r.md", &[])),
            ErrorCode::Conflict
        );
    }
    let existing = [part(
        220,
        PathPartKind::Document,
        &format!("{RUN_PATH}/outputs/r.md"),
        Some(OUTPUTS),
    )];
    assert_eq!(
        code(add("triggerer", &running(false), "r.md", &existing)),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(add(
            "user_read_write",
            &completed(false, ApprovalState::NotRequired),
            "r.md",
            &[]
        )),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(add("other_tenant_owner", &running(false), "r.md", &[])),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(add("triggerer", &running(false), "", &[])),
        ErrorCode::UnprocessableEntity
    );
}

// ================================================================================== reap

/// REAP-1: strictly after the deadline. At the deadline itself nothing happens; one nanosecond
/// later the run is FAILED "Timed out" (kind TimedOut, `completed_at` then, deadline cleared)
/// and a cancel of the current attempt is queued; the answer says it was reaped.
#[test]
fn reap_1_strictly_after_the_deadline() {
    let run = Run {
        attempt: 2,
        ..running(true)
    };
    let deadline = run.deadline_at.unwrap();
    assert_unchanged(decide_reap(deadline, &run), false);
    assert_unchanged(
        decide_reap(deadline - Duration::nanoseconds(1), &run),
        false,
    );

    let at = deadline + Duration::nanoseconds(1);
    let d = decide_reap(at, &run).unwrap();
    let next = Run {
        execution_state: ExecutionState::Failed,
        version: 3,
        updated_at: at,
        completed_at: Some(at),
        deadline_at: None,
        error: Some("Timed out".into()),
        failure: Some(FailureKind::TimedOut),
        ..run.clone()
    };
    let mut t = put(next, Event::TimedOut);
    t.reason = Some("Timed out".into());
    t.outbox = vec![OutboxMessage::Cancel(Cancel {
        key: DispatchKey {
            run_id: run.id,
            attempt: 2,
        },
        tenant_id: tenant(),
        reason: "Timed out".into(),
    })];
    assert_eq!(d, Decision::write(t, true));
    assert_eq!(TIMED_OUT, "Timed out");
}

/// REAP-1: a reaped run can be retried; REAP-2: reaping is idempotent (the reaped run, and
/// every run not IN_PROGRESS, is left alone).
#[test]
fn reap_2_idempotent_and_retryable() {
    let run = running(true);
    let late = run.deadline_at.unwrap() + Duration::hours(1);
    let (t, reaped) = change(decide_reap(late, &run).unwrap());
    assert!(reaped);
    let reaped_run = t.next().unwrap().clone();
    assert_unchanged(decide_reap(late + Duration::hours(1), &reaped_run), false);
    for other in [
        draft(),
        pending(),
        completed(true, ApprovalState::Pending),
        failed_after_start(),
    ] {
        assert_unchanged(decide_reap(late, &other), false);
    }
    let (t, ()) = change(
        decide_retry(
            &who("triggerer").ctx_at(late),
            &reaped_run,
            &definition(true),
        )
        .unwrap(),
    );
    let next = t.next().unwrap();
    assert_eq!(
        (next.execution_state, next.attempt, next.failure),
        (ExecutionState::InProgress, 2, None)
    );
}
