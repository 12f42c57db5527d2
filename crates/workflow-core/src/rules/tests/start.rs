//! Start (START-*) and the snapshot (SNAP-*).

use super::*;

// ================================================================================== start

/// The catalog of the full start scenario: ids 180.. are common files, 190.. references.
struct StartScene {
    def: Definition,
    run: Run,
    facts: StartFacts,
    expected_snapshot: Snapshot,
}

fn doc_with_version(doc_n: u128, ver_n: u128, path: &str) -> (PathPart, PathPart) {
    let doc = part(doc_n, PathPartKind::Document, path, Some(ENG));
    let v = version_of(ver_n, &doc, Ingestion::Completed, true);
    (doc, v)
}

fn pinned(p: &PathPart, origin: InputOrigin) -> InputSnapshot {
    InputSnapshot {
        path_part_id: p.id,
        materialized_path: p.path.clone(),
        part_type: p.kind,
        origin,
    }
}

fn start_scene() -> StartScene {
    // Common files, in the definition's order: missing, readable doc, unreadable, a doc also
    // referenced by the run, a doc without an active version.
    let (c_doc, c_doc_v) = doc_with_version(181, 1181, "/shared/eng/common.md");
    let c_private = part(182, PathPartKind::Document, "/private/secret.md", None);
    let c_private_v = version_of(1182, &c_private, Ingestion::Completed, true);
    let (shared_doc, shared_v) = doc_with_version(183, 1183, "/shared/eng/both.md");
    let c_noactive = part(
        184,
        PathPartKind::Document,
        "/shared/eng/draft.md",
        Some(ENG),
    );
    // References: a DOCUMENT, a pinned DOCUMENT_VERSION, live FOLDER/DATA_SOURCE/API_CONNECTION,
    // and the doc the definition also has.
    let (r_doc, r_doc_v) = doc_with_version(191, 1191, "/shared/eng/spec.md");
    let (_, r_pinned) = doc_with_version(192, 1192, "/shared/eng/old.md");
    let r_folder = part(193, PathPartKind::Folder, "/shared/eng/data", Some(ENG));
    let r_source = part(194, PathPartKind::DataSource, "/shared/eng/crm", Some(ENG));
    let r_api = part(
        195,
        PathPartKind::ApiConnection,
        "/shared/eng/api",
        Some(ENG),
    );
    // One upload, ingested.
    let upload = part(
        210,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/a.txt"),
        Some(INPUTS),
    );
    let upload_v = version_of(211, &upload, Ingestion::Completed, true);

    let def = Definition {
        common_file_ids: vec![pid(180), pid(181), pid(182), pid(183), pid(184)],
        selected_skill_ids: vec![uid(SKILL_1), uid(SKILL_2)],
        ..definition(true)
    };
    let run = Run {
        input_scope: vec![pid(191), pid(1192), pid(193), pid(194), pid(195), pid(183)],
        selected_skill_ids: vec![uid(SKILL_2), uid(SKILL_3)],
        ..draft()
    };
    let facts = StartFacts {
        instruction: Some(resolved_doc(
            &instruction_doc(),
            Some(&instruction_version()),
        )),
        scope: vec![
            resolved_doc(&r_doc, Some(&r_doc_v)),
            resolved(&r_pinned),
            resolved(&r_folder),
            resolved(&r_source),
            resolved(&r_api),
            resolved_doc(&shared_doc, Some(&shared_v)),
        ],
        uploads: vec![resolved_doc(&upload, Some(&upload_v))],
        common: vec![
            missing(180),
            resolved_doc(&c_doc, Some(&c_doc_v)),
            resolved_doc(&c_private, Some(&c_private_v)),
            resolved_doc(&shared_doc, Some(&shared_v)),
            resolved_doc(&c_noactive, None),
        ],
    };
    let v = instruction_version();
    let expected_snapshot = Snapshot {
        workflow_name: "summarise".into(),
        max_run_duration_seconds: 1800,
        approval_required: true,
        instruction: InstructionSnapshot {
            path_part_id: Some(pid(INSTRUCTION_V)),
            materialized_path: v.path.clone(),
            source: Some(format!("kb://{}/{}", tenant(), uid(INSTRUCTION_V))),
        },
        inputs: vec![
            pinned(&c_doc_v, InputOrigin::DefinitionCommon),
            pinned(&shared_v, InputOrigin::DefinitionCommon),
            pinned(&r_doc_v, InputOrigin::RunReference),
            pinned(&r_pinned, InputOrigin::RunReference),
            pinned(&r_folder, InputOrigin::RunReference),
            pinned(&r_source, InputOrigin::RunReference),
            pinned(&r_api, InputOrigin::RunReference),
            pinned(&upload_v, InputOrigin::RunUpload),
        ],
        excluded_common_files: vec![
            ExcludedCommonFile {
                path_part_id: pid(180),
                reason: ExclusionReason::NotFound,
            },
            ExcludedCommonFile {
                path_part_id: pid(182),
                reason: ExclusionReason::NoAccess,
            },
            ExcludedCommonFile {
                path_part_id: pid(184),
                reason: ExclusionReason::Unresolvable,
            },
        ],
        user_message: Some("please".into()),
        selected_skill_ids: vec![uid(SKILL_1), uid(SKILL_2), uid(SKILL_3)],
        created_at: now(),
    };
    StartScene {
        def,
        run,
        facts,
        expected_snapshot,
    }
}

/// START-1, START-7, SNAP-1..6: Start writes IN_PROGRESS at attempt 1 with the snapshot (the
/// instruction pinned to its active version; a DOCUMENT reference pinned to its active version
/// with origin RUN_REFERENCE, a DOCUMENT_VERSION kept, FOLDER/DATA_SOURCE/API_CONNECTION live;
/// the upload RUN_UPLOAD; common files DEFINITION_COMMON with NOT_FOUND / NO_ACCESS /
/// UNRESOLVABLE exclusions; deduplicated with the first origin winning; the message; the
/// definition's skills then the run's), the thread, the times and the deadline, and queues the
/// dispatch of attempt 1 carrying all of it.
#[test]
fn start_1_snap_1_to_6_start_writes_the_whole_snapshot_and_dispatches() {
    let s = start_scene();
    let t = who("triggerer");
    let cmd = StartRun {
        user_message: Some("please".into()),
    };
    let d = decide_start(&t.ctx(), &s.run, &s.def, &cmd, &s.facts, uid(THREAD)).unwrap();

    let next = Run {
        execution_state: ExecutionState::InProgress,
        attempt: 1,
        version: 2,
        updated_at: now(),
        started_at: Some(now()),
        attempt_started_at: Some(now()),
        deadline_at: Some(now() + Duration::seconds(1800 + 60)),
        run_thread_id: Some(uid(THREAD)),
        snapshot: Some(s.expected_snapshot.clone()),
        completed_at: None,
        error: None,
        failure: None,
        ..s.run.clone()
    };
    let expected_dispatch = OutboxMessage::Dispatch(Dispatch {
        key: DispatchKey {
            run_id: RunId(uid(RUN)),
            attempt: 1,
        },
        tenant_id: tenant(),
        definition_id: Some(DefinitionId(uid(DEF))),
        resume: false,
        triggered_by: user_id(TRIGGERER),
        run_thread_id: Some(uid(THREAD)),
        snapshot: s.expected_snapshot,
        deadline_at: Some(now() + Duration::seconds(1860)),
    });
    let mut transition = put(next, Event::Started);
    transition.outbox = vec![expected_dispatch];
    assert_eq!(d, Decision::write(transition, ()));
}

/// SNAP-1: with no instruction (or one without an active version) the snapshot's instruction
/// is empty with a null source; an admin starter reads every common file.
#[test]
fn snap_1_empty_instruction_has_a_null_source() {
    let empty = InstructionSnapshot {
        path_part_id: None,
        materialized_path: String::new(),
        source: None,
    };
    for instruction in [None, Some(resolved_doc(&instruction_doc(), None))] {
        let facts = StartFacts {
            instruction,
            ..StartFacts::default()
        };
        let d = decide_start(
            &who("admin").ctx(),
            &draft(),
            &definition(false),
            &StartRun::default(),
            &facts,
            uid(THREAD),
        )
        .unwrap();
        let (t, ()) = change(d);
        let snap = t.next().unwrap().snapshot.clone().unwrap();
        assert_eq!(snap.instruction, empty);
        assert!(!snap.approval_required);
        assert_eq!(snap.inputs, vec![]);
        assert_eq!(snap.user_message, None);
    }
}

/// SNAP-4: who can read a common file depends on the starter: an OWNER includes (pinned to its
/// active version) the one a USER is excluded from with NO_ACCESS.
#[test]
fn snap_4_no_access_depends_on_the_starter() {
    let s = start_scene();
    let d = decide_start(
        &who("owner").ctx(),
        &s.run,
        &s.def,
        &StartRun::default(),
        &s.facts,
        uid(THREAD),
    )
    .unwrap();
    let snap = change(d).0.next().unwrap().snapshot.clone().unwrap();
    assert_eq!(
        snap.excluded_common_files
            .iter()
            .map(|e| (e.path_part_id, e.reason))
            .collect::<Vec<_>>(),
        vec![
            (pid(180), ExclusionReason::NotFound),
            (pid(184), ExclusionReason::Unresolvable),
        ]
    );
    assert_eq!(snap.inputs[1].path_part_id, pid(1182));
    assert_eq!(snap.inputs[1].origin, InputOrigin::DefinitionCommon);
}

/// START-2: Start on an IN_PROGRESS run answers it unchanged and dispatches nothing.
#[test]
fn start_2_in_progress_is_unchanged() {
    assert_unchanged(
        decide_start(
            &who("triggerer").ctx(),
            &running(true),
            &definition(true),
            &StartRun::default(),
            &StartFacts::default(),
            uid(THREAD),
        ),
        (),
    );
}

fn start_code(w: &str, run: &Run, def: &Definition, facts: &StartFacts) -> ErrorCode {
    code(decide_start(
        &who(w).ctx(),
        run,
        def,
        &StartRun::default(),
        facts,
        uid(THREAD),
    ))
}

/// START-3, START-4, START-5, START-6, START-7, VIS-1, VIS-2: the refusals of Start, permission
/// before state.
#[test]
fn start_refusals_and_their_order() {
    let def = definition(true);
    let none = StartFacts::default();
    // START-3
    for run in [
        completed(true, ApprovalState::Pending),
        failed_after_start(),
        failed_never_started(),
    ] {
        assert_eq!(
            start_code("triggerer", &run, &def, &none),
            ErrorCode::Conflict
        );
    }
    // START-4: PENDING, or a draft with an upload not completed.
    assert_eq!(
        start_code("triggerer", &pending(), &def, &none),
        ErrorCode::Conflict
    );
    let upload = part(
        210,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/a.txt"),
        Some(INPUTS),
    );
    for ingestion in [Ingestion::Processing, Ingestion::Failed, Ingestion::Pending] {
        let v = version_of(211, &upload, ingestion, true);
        let facts = StartFacts {
            uploads: vec![resolved_doc(&upload, Some(&v))],
            ..StartFacts::default()
        };
        assert_eq!(
            start_code("triggerer", &draft(), &def, &facts),
            ErrorCode::Conflict,
            "{ingestion}"
        );
    }
    // START-5, VIS-1
    assert_eq!(
        start_code("user_read_write", &draft(), &def, &none),
        ErrorCode::Forbidden
    );
    assert_eq!(
        start_code("user_no_grant", &draft(), &def, &none),
        ErrorCode::NotFound
    );
    assert_eq!(
        start_code("other_tenant_owner", &draft(), &def, &none),
        ErrorCode::NotFound
    );
    // VIS-2: a USER who may not start a COMPLETED (or PENDING) run is forbidden, not conflict.
    assert_eq!(
        start_code(
            "user_read",
            &completed(true, ApprovalState::Pending),
            &def,
            &none
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        start_code("user_read", &pending(), &def, &none),
        ErrorCode::Forbidden
    );
    // START-6
    let inactive = Definition {
        is_active: false,
        ..def.clone()
    };
    let template = Definition {
        is_template: true,
        ..def.clone()
    };
    assert_eq!(
        start_code("triggerer", &draft(), &inactive, &none),
        ErrorCode::Conflict
    );
    assert_eq!(
        start_code("triggerer", &draft(), &template, &none),
        ErrorCode::Conflict
    );
    // START-7: a message over 4000 characters, decided before anything else.
    let long = StartRun {
        user_message: Some("x".repeat(4001)),
    };
    assert_eq!(
        code(decide_start(
            &who("user_no_grant").ctx(),
            &completed(true, ApprovalState::Pending),
            &def,
            &long,
            &none,
            uid(THREAD)
        )),
        ErrorCode::UnprocessableEntity
    );
}

/// START-8: a scope reference that vanished is `conflict` naming it; one the starter can no
/// longer read is `forbidden`; a referenced DOCUMENT without an active version cannot be
/// pinned (`conflict`). Nothing is written.
#[test]
fn start_8_vanished_or_unreadable_reference_refuses() {
    let def = definition(true);
    let t = who("triggerer");
    let facts = |r: Resolved| StartFacts {
        scope: vec![r],
        ..StartFacts::default()
    };
    let run = Run {
        input_scope: vec![pid(190)],
        ..draft()
    };
    let err = decide_start(
        &t.ctx(),
        &run,
        &def,
        &StartRun::default(),
        &facts(missing(190)),
        uid(THREAD),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains(&uid(190).to_string()), "{err}");
    let private = part(190, PathPartKind::Folder, "/private/x", None);
    assert_eq!(
        start_code("triggerer", &run, &def, &facts(resolved(&private))),
        ErrorCode::Forbidden
    );
    let unpinnable = part(190, PathPartKind::Document, "/shared/eng/x.md", Some(ENG));
    assert_eq!(
        start_code(
            "triggerer",
            &run,
            &def,
            &facts(resolved_doc(&unpinnable, None))
        ),
        ErrorCode::Conflict
    );
}

/// START-2..5, VIS-2: the facts are read only for a NOT_STARTED run, after the permission check
/// (an IN_PROGRESS run answers START-2 without them; other states are refused without them).
#[test]
fn start_needs_facts_only_for_a_draft() {
    let def = definition(true);
    let cmd = StartRun::default();
    let needs = |w: &str, run: &Run| start_needs_facts(&who(w).ctx(), run, &def, &cmd);
    assert!(needs("triggerer", &draft()).unwrap());
    for run in [
        pending(),
        running(true),
        completed(true, ApprovalState::Pending),
        failed_after_start(),
    ] {
        assert!(!needs("owner", &run).unwrap(), "{}", run.execution_state);
        assert_eq!(code(needs("user_read", &run)), ErrorCode::Forbidden);
    }
    assert_eq!(code(needs("user_no_grant", &draft())), ErrorCode::NotFound);
}

/// SNAP-2, SNAP-4: only referencable kinds are pinned: a common file of another kind (a SKILL,
/// a run folder) is excluded as UNRESOLVABLE; such a scope reference cannot be pinned
/// (`conflict`, START-8).
#[test]
fn snap_4_unreferencable_kinds_are_unresolvable() {
    let skill = part(185, PathPartKind::Skill, "/shared/eng/skill", Some(ENG));
    let run_part = part(186, PathPartKind::WorkflowRun, RUN_PATH, Some(RUNS));
    let facts = StartFacts {
        common: vec![resolved(&skill), resolved(&run_part)],
        ..StartFacts::default()
    };
    let d = decide_start(
        &who("owner").ctx(),
        &draft(),
        &definition(true),
        &StartRun::default(),
        &facts,
        uid(THREAD),
    )
    .unwrap();
    let snap = change(d).0.next().unwrap().snapshot.clone().unwrap();
    assert_eq!(snap.inputs, vec![]);
    assert_eq!(
        snap.excluded_common_files,
        vec![
            ExcludedCommonFile {
                path_part_id: pid(185),
                reason: ExclusionReason::Unresolvable,
            },
            ExcludedCommonFile {
                path_part_id: pid(186),
                reason: ExclusionReason::Unresolvable,
            },
        ]
    );
    let in_scope = StartFacts {
        scope: vec![resolved(&skill)],
        ..StartFacts::default()
    };
    assert_eq!(
        start_code("owner", &draft(), &definition(true), &in_scope),
        ErrorCode::Conflict
    );
}
