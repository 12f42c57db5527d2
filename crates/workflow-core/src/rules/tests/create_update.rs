//! Create (CREATE-*) and update (UPDATE-*).

use super::*;

// ================================================================================== create

/// The new run's folder, `runs/<name>`, and its subfolders, as Create writes them at [`now`].
fn new_folders(name: &str) -> (PathPart, [PathPart; 3]) {
    let path = format!("{RUNS_PATH}/{name}");
    let mut folder = part(500, PathPartKind::WorkflowRun, &path, Some(RUNS));
    folder.name = name.to_owned();
    folder.created_at = now();
    let sub = |n, s: &str| {
        let mut p = part(n, PathPartKind::Folder, &format!("{path}/{s}"), Some(500));
        p.created_at = now();
        p
    };
    let subs = [
        sub(501, "inputs"),
        sub(502, "outputs"),
        sub(503, "discussions"),
    ];
    (folder, subs)
}

/// CREATE-3, CREATE-5, CREATE-7: a plain create writes a NOT_STARTED run (attempt 0, version 1,
/// no snapshot, no times but created/updated, approval not_required), its scope deduplicated
/// (first position wins), auto-start fields stored, and the run folder with its three
/// subfolders, in one transition.
#[test]
fn create_3_plain_create_writes_the_draft_and_its_folder() {
    let t = who("triggerer");
    let cmd = CreateRun {
        name: Some("weekly".into()),
        input_scope: vec![pid(150), pid(151), pid(150)],
        idempotency_key: Some("k-1".into()),
        auto_start: true,
        auto_start_user_message: Some("go".into()),
        selected_skill_ids: vec![uid(SKILL_2)],
        uploads: vec![],
    };
    let facts = create_facts(vec![
        resolved_doc(&spec_doc(), None),
        resolved(&eng_folder()),
        resolved_doc(&spec_doc(), None),
    ]);
    let d = decide_create(&t.ctx(), &definition(true), &cmd, &facts, fresh_ids(), &[]).unwrap();

    let expected = Run {
        id: RunId(uid(500)),
        tenant_id: tenant(),
        definition_id: DefinitionId(uid(DEF)),
        name: "weekly".into(),
        triggered_by: user_id(TRIGGERER),
        execution_state: ExecutionState::NotStarted,
        approval_state: ApprovalState::NotRequired,
        attempt: 0,
        version: 1,
        input_scope: vec![pid(150), pid(151)],
        selected_skill_ids: vec![uid(SKILL_2)],
        auto_start: true,
        auto_start_user_message: Some("go".into()),
        idempotency_key: Some("k-1".into()),
        snapshot: None,
        started_at: None,
        attempt_started_at: None,
        deadline_at: None,
        completed_at: None,
        error: None,
        failure: None,
        run_thread_id: None,
        folders: RunFolders {
            path: format!("{RUNS_PATH}/weekly"),
            inputs_id: pid(501),
            outputs_id: pid(502),
            discussions_id: pid(503),
        },
        approval: None,
        created_at: now(),
        updated_at: now(),
    };
    let (folder, [inputs, outputs, discussions]) = new_folders("weekly");
    let mut transition = put(expected.clone(), Event::Created);
    transition.catalog = vec![
        put_part(folder),
        put_part(inputs),
        put_part(outputs),
        put_part(discussions),
    ];
    assert_eq!(d, Decision::write(transition, expected));
}

/// CREATE-3: without a name, the run is named after its own id (and so is its folder).
#[test]
fn create_3_name_defaults_to_the_run_id() {
    let t = who("triggerer");
    let d = decide_create(
        &t.ctx(),
        &definition(true),
        &CreateRun::default(),
        &create_facts(vec![]),
        fresh_ids(),
        &[],
    )
    .unwrap();
    let (tr, run) = change(d);
    let name = uid(500).to_string();
    assert_eq!(run.name, name);
    assert_eq!(run.folders.path, format!("{RUNS_PATH}/{name}"));
    let (folder, _) = new_folders(&name);
    assert_eq!(tr.catalog[0], put_part(folder));
    assert_eq!(tr.next(), Some(&run));
}

/// SPEC section 2 "create with uploads → PENDING": each upload is a DOCUMENT under `inputs/`
/// with one active DOCUMENT_VERSION carrying its ingestion status; one unsettled upload makes
/// the new run PENDING.
#[test]
fn create_with_an_unsettled_upload_is_pending() {
    let t = who("triggerer");
    let cmd = CreateRun {
        name: Some("weekly".into()),
        uploads: vec![
            NewUpload {
                name: "a.txt".into(),
                ingestion: Ingestion::Processing,
            },
            NewUpload {
                name: "b.txt".into(),
                ingestion: Ingestion::Completed,
            },
        ],
        ..CreateRun::default()
    };
    let ids = [(uid(600), uid(601)), (uid(602), uid(603))];
    let d = decide_create(
        &t.ctx(),
        &definition(true),
        &cmd,
        &create_facts(vec![]),
        fresh_ids(),
        &ids,
    )
    .unwrap();

    let (folder, [inputs, outputs, discussions]) = new_folders("weekly");
    let upload = |doc_n: u128, ver_n: u128, name: &str, ingestion| {
        let mut doc = part(
            doc_n,
            PathPartKind::Document,
            &format!("{}/{name}", inputs.path),
            Some(501),
        );
        doc.created_at = now();
        let mut v = version_of(ver_n, &doc, ingestion, true);
        v.created_at = now();
        [put_part(doc), put_part(v)]
    };
    let expected = Run {
        id: RunId(uid(500)),
        name: "weekly".into(),
        execution_state: ExecutionState::Pending,
        folders: RunFolders {
            path: format!("{RUNS_PATH}/weekly"),
            inputs_id: pid(501),
            outputs_id: pid(502),
            discussions_id: pid(503),
        },
        created_at: now(),
        updated_at: now(),
        ..draft()
    };
    let mut transition = put(expected.clone(), Event::Created);
    transition.catalog = vec![
        put_part(folder),
        put_part(inputs.clone()),
        put_part(outputs),
        put_part(discussions),
    ];
    transition
        .catalog
        .extend(upload(600, 601, "a.txt", Ingestion::Processing));
    transition
        .catalog
        .extend(upload(602, 603, "b.txt", Ingestion::Completed));
    assert_eq!(d, Decision::write(transition, expected));
}

/// SPEC section 2, SYNC-3: settled uploads give NOT_STARTED; Create never fails a run, even
/// with a failed upload and auto-start armed.
#[test]
fn create_with_settled_uploads_is_not_started() {
    let t = who("triggerer");
    for (ingestion, auto_start) in [
        (Ingestion::Completed, false),
        (Ingestion::Failed, false),
        (Ingestion::Failed, true),
    ] {
        let cmd = CreateRun {
            auto_start,
            uploads: vec![NewUpload {
                name: "a.txt".into(),
                ingestion,
            }],
            ..CreateRun::default()
        };
        let d = decide_create(
            &t.ctx(),
            &definition(true),
            &cmd,
            &create_facts(vec![]),
            fresh_ids(),
            &[(uid(600), uid(601))],
        )
        .unwrap();
        let (tr, run) = change(d);
        assert_eq!(
            run.execution_state,
            ExecutionState::NotStarted,
            "{ingestion}"
        );
        assert_eq!((run.error, run.failure), (None, None));
        assert_eq!(tr.catalog.len(), 6);
    }
}

/// CREATE-6: a repeated idempotency key answers the run created the first time and writes
/// nothing, before any other check that could refuse a second create (the name is taken by
/// that very run).
#[test]
fn create_6_idempotent_replay_answers_the_existing_run() {
    let t = who("triggerer");
    let existing = running(true);
    let cmd = CreateRun {
        name: Some("r1".into()),
        idempotency_key: Some("k-1".into()),
        ..CreateRun::default()
    };
    let facts = CreateFacts {
        existing: Some(existing.clone()),
        name_taken: true,
        ..create_facts(vec![])
    };
    assert_unchanged(
        decide_create(&t.ctx(), &definition(true), &cmd, &facts, fresh_ids(), &[]),
        existing,
    );
}

/// CREATE-1, CREATE-2, CREATE-4, CREATE-5, CREATE-7, UPDATE-5: the refusals of Create.
#[test]
fn create_refusals() {
    let t = who("triggerer");
    let def = definition(true);
    let ok = CreateRun::default();
    let create = |w: &Who, def: &Definition, cmd: &CreateRun, facts: &CreateFacts| {
        decide_create(&w.ctx(), def, cmd, facts, fresh_ids(), &[])
    };
    let facts = create_facts(vec![]);
    // CREATE-1: unreadable definition, or another tenant's.
    assert_eq!(
        code(create(&who("user_no_grant"), &def, &ok, &facts)),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(create(&who("other_tenant_owner"), &def, &ok, &facts)),
        ErrorCode::NotFound
    );
    // CREATE-2
    let inactive = Definition {
        is_active: false,
        ..def.clone()
    };
    let template = Definition {
        is_template: true,
        ..def.clone()
    };
    assert_eq!(
        code(create(&t, &inactive, &ok, &facts)),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(create(&t, &template, &ok, &facts)),
        ErrorCode::Conflict
    );
    // CREATE-4
    for bad in ["", "a/b", "a\u{7}b"] {
        let cmd = CreateRun {
            name: Some(bad.into()),
            ..CreateRun::default()
        };
        assert_eq!(
            code(create(&t, &def, &cmd, &facts)),
            ErrorCode::UnprocessableEntity
        );
    }
    let taken = CreateFacts {
        name_taken: true,
        ..create_facts(vec![])
    };
    assert_eq!(code(create(&t, &def, &ok, &taken)), ErrorCode::Conflict);
    // CREATE-7
    let long = CreateRun {
        auto_start_user_message: Some("x".repeat(4001)),
        ..CreateRun::default()
    };
    assert_eq!(
        code(create(&t, &def, &long, &facts)),
        ErrorCode::UnprocessableEntity
    );
    let at_limit = CreateRun {
        auto_start_user_message: Some("x".repeat(4000)),
        ..CreateRun::default()
    };
    assert!(create(&t, &def, &at_limit, &facts).is_ok());
    // CREATE-5 as UPDATE-5: unknown id, wrong kind, unreadable part, too many ids.
    let cases = [
        (missing(160), ErrorCode::NotFound),
        (
            resolved(&part(161, PathPartKind::Skill, "/shared/eng/s", Some(ENG))),
            ErrorCode::UnprocessableEntity,
        ),
        (
            resolved(&part(162, PathPartKind::Folder, "/private", None)),
            ErrorCode::Forbidden,
        ),
    ];
    for (r, expected) in cases {
        let cmd = CreateRun {
            input_scope: vec![r.id],
            ..CreateRun::default()
        };
        let facts = create_facts(vec![r]);
        assert_eq!(code(create(&t, &def, &cmd, &facts)), expected);
    }
    let too_many = CreateRun {
        input_scope: (0..201).map(|n| pid(1000 + n)).collect(),
        ..CreateRun::default()
    };
    assert_eq!(
        code(create(&t, &def, &too_many, &facts)),
        ErrorCode::UnprocessableEntity
    );
    // Field checks come first: a bad name on a hidden definition is a bad name.
    let bad = CreateRun {
        name: Some("a/b".into()),
        ..CreateRun::default()
    };
    assert_eq!(
        code(create(&who("user_no_grant"), &def, &bad, &facts)),
        ErrorCode::UnprocessableEntity
    );
}

// ================================================================================== update

fn rename(name: &str) -> UpdateRun {
    UpdateRun {
        name: Some(name.into()),
        ..UpdateRun::default()
    }
}

/// UPDATE-5: the scope is replaced wholesale, duplicates collapse (first position wins), and
/// nothing else changes but version and `updated_at`.
#[test]
fn update_5_scope_replaces_the_scope() {
    let t = who("triggerer");
    let run = Run {
        input_scope: vec![pid(170)],
        ..draft()
    };
    let cmd = UpdateRun {
        input_scope: Some(vec![pid(151), pid(150), pid(151)]),
        ..UpdateRun::default()
    };
    let facts = UpdateFacts {
        scope: Some(vec![
            resolved(&eng_folder()),
            resolved_doc(&spec_doc(), None),
            resolved(&eng_folder()),
        ]),
        ..UpdateFacts::default()
    };
    let d = decide_update(&t.ctx(), &run, &definition(true), &cmd, &facts).unwrap();
    let expected = Run {
        input_scope: vec![pid(151), pid(150)],
        version: 2,
        updated_at: now(),
        ..run.clone()
    };
    assert_eq!(d, Decision::write(put(expected, Event::Updated), ()));
}

/// UPDATE-4: a rename moves the run folder and every descendant's materialized path.
#[test]
fn update_4_rename_moves_the_folder_and_its_subtree() {
    let owner = who("owner");
    let upload = part(
        210,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/a.txt"),
        Some(INPUTS),
    );
    let upload_v = version_of(211, &upload, Ingestion::Completed, true);
    let facts = UpdateFacts {
        folder: Some(run_folder()),
        subtree: vec![
            discussions_folder(),
            inputs_folder(),
            upload.clone(),
            upload_v.clone(),
            outputs_folder(),
        ],
        ..UpdateFacts::default()
    };
    let d = decide_update(
        &owner.ctx(),
        &draft(),
        &definition(true),
        &rename("r2"),
        &facts,
    )
    .unwrap();

    let new = format!("{RUNS_PATH}/r2");
    let moved = |mut p: PathPart, path: String| {
        p.path = path;
        put_part(p)
    };
    let mut folder = run_folder();
    folder.name = "r2".into();
    let expected = Run {
        name: "r2".into(),
        folders: RunFolders {
            path: new.clone(),
            ..draft().folders
        },
        version: 2,
        updated_at: now(),
        ..draft()
    };
    let mut transition = put(expected, Event::Updated);
    transition.catalog = vec![
        moved(folder, new.clone()),
        moved(discussions_folder(), format!("{new}/discussions")),
        moved(inputs_folder(), format!("{new}/inputs")),
        moved(upload, format!("{new}/inputs/a.txt")),
        moved(upload_v, format!("{new}/inputs/a.txt/{}", uid(211))),
        moved(outputs_folder(), format!("{new}/outputs")),
    ];
    assert_eq!(d, Decision::write(transition, ()));
}

/// UPDATE-4: renaming to the current name is no rename (no folder write, no clash check); a
/// taken name is `conflict`.
#[test]
fn update_4_same_name_and_taken_name() {
    let t = who("triggerer");
    let def = definition(true);
    let facts = UpdateFacts {
        name_taken: true,
        ..UpdateFacts::default()
    };
    let d = decide_update(&t.ctx(), &draft(), &def, &rename("r1"), &facts).unwrap();
    let expected = Run {
        version: 2,
        updated_at: now(),
        ..draft()
    };
    assert_eq!(d, Decision::write(put(expected, Event::Updated), ()));
    let taken = UpdateFacts {
        folder: Some(run_folder()),
        name_taken: true,
        ..UpdateFacts::default()
    };
    assert_eq!(
        code(decide_update(
            &t.ctx(),
            &draft(),
            &def,
            &rename("r2"),
            &taken
        )),
        ErrorCode::Conflict
    );
}

/// UPDATE-6, CREATE-7: `auto_start` and its message are stored; an empty message clears it;
/// absent fields stay as they were.
#[test]
fn update_6_auto_start_fields() {
    let t = who("triggerer");
    let def = definition(true);
    let arm = UpdateRun {
        auto_start: Some(true),
        auto_start_user_message: Some("hello".into()),
        ..UpdateRun::default()
    };
    let d = decide_update(&t.ctx(), &draft(), &def, &arm, &UpdateFacts::default()).unwrap();
    let armed = Run {
        auto_start: true,
        auto_start_user_message: Some("hello".into()),
        version: 2,
        updated_at: now(),
        ..draft()
    };
    assert_eq!(d, Decision::write(put(armed.clone(), Event::Updated), ()));

    let clear = UpdateRun {
        auto_start_user_message: Some(String::new()),
        ..UpdateRun::default()
    };
    let d = decide_update(&t.ctx(), &armed, &def, &clear, &UpdateFacts::default()).unwrap();
    let cleared = Run {
        auto_start: true,
        auto_start_user_message: None,
        version: 3,
        ..armed.clone()
    };
    assert_eq!(d, Decision::write(put(cleared, Event::Updated), ()));

    let disarm = UpdateRun {
        auto_start: Some(false),
        ..UpdateRun::default()
    };
    let d = decide_update(&t.ctx(), &armed, &def, &disarm, &UpdateFacts::default()).unwrap();
    let disarmed = Run {
        auto_start: false,
        version: 3,
        ..armed
    };
    assert_eq!(d, Decision::write(put(disarmed, Event::Updated), ()));
}

/// UPDATE-1, UPDATE-2, UPDATE-3, UPDATE-5, VIS-1, VIS-2: the refusals of Update, and their
/// order: fields, then permission, then state.
#[test]
fn update_refusals_and_their_order() {
    let def = definition(true);
    let none = UpdateFacts::default();
    let upd =
        |w: &str, run: &Run, cmd: &UpdateRun| decide_update(&who(w).ctx(), run, &def, cmd, &none);
    // UPDATE-3
    assert_eq!(
        code(upd("triggerer", &draft(), &UpdateRun::default())),
        ErrorCode::UnprocessableEntity
    );
    assert_eq!(
        code(upd("triggerer", &draft(), &rename("a/b"))),
        ErrorCode::UnprocessableEntity
    );
    // UPDATE-1 (UPDATE-7 aside: scope and name edits are NOT_STARTED only)
    for run in [pending(), running(true), failed_after_start()] {
        assert_eq!(
            code(upd("triggerer", &run, &rename("r2"))),
            ErrorCode::Conflict
        );
    }
    // UPDATE-2, VIS-1
    assert_eq!(
        code(upd("user_read_write", &draft(), &rename("r2"))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(upd("user_no_grant", &draft(), &rename("r2"))),
        ErrorCode::NotFound
    );
    // VIS-2: a reader who may not edit a COMPLETED run is forbidden, not conflict.
    let done = completed(true, ApprovalState::Pending);
    assert_eq!(
        code(upd("user_read", &done, &rename("r2"))),
        ErrorCode::Forbidden
    );
    // Fields before permission: an empty body from a stranger is still a bad body.
    assert_eq!(
        code(upd("user_no_grant", &done, &UpdateRun::default())),
        ErrorCode::UnprocessableEntity
    );
    // UPDATE-5
    let scope = |r: Resolved| {
        let cmd = UpdateRun {
            input_scope: Some(vec![r.id]),
            ..UpdateRun::default()
        };
        let facts = UpdateFacts {
            scope: Some(vec![r]),
            ..UpdateFacts::default()
        };
        decide_update(&who("triggerer").ctx(), &draft(), &def, &cmd, &facts)
    };
    assert_eq!(code(scope(missing(160))), ErrorCode::NotFound);
    assert_eq!(
        code(scope(resolved(&part(
            161,
            PathPartKind::WorkflowRun,
            "/shared/eng/x",
            None
        )))),
        ErrorCode::UnprocessableEntity
    );
    assert_eq!(
        code(scope(resolved(&part(
            162,
            PathPartKind::Document,
            "/private/x",
            None
        )))),
        ErrorCode::Forbidden
    );
    let too_many = UpdateRun {
        input_scope: Some((0..201).map(|n| pid(1000 + n)).collect()),
        ..UpdateRun::default()
    };
    assert_eq!(
        code(upd("triggerer", &draft(), &too_many)),
        ErrorCode::UnprocessableEntity
    );
}

/// UPDATE-5, CREATE-5: 200 ids is the limit, not past it: Create and Update accept exactly 200
/// (and refuse 201, above).
#[test]
fn update_5_two_hundred_ids_are_accepted() {
    let parts: Vec<PathPart> = (0..200)
        .map(|n| {
            part(
                1000 + n,
                PathPartKind::Folder,
                &format!("/shared/eng/f{n}"),
                Some(ENG),
            )
        })
        .collect();
    let ids: Vec<PathPartId> = parts.iter().map(|p| p.id).collect();
    let scope: Vec<Resolved> = parts.iter().map(resolved).collect();
    let t = who("triggerer");
    let cmd = UpdateRun {
        input_scope: Some(ids.clone()),
        ..UpdateRun::default()
    };
    let facts = UpdateFacts {
        scope: Some(scope.clone()),
        ..UpdateFacts::default()
    };
    let (tr, ()) =
        change(decide_update(&t.ctx(), &draft(), &definition(true), &cmd, &facts).unwrap());
    assert_eq!(tr.next().unwrap().input_scope, ids);
    let create = CreateRun {
        input_scope: ids.clone(),
        ..CreateRun::default()
    };
    let (_, run) = change(
        decide_create(
            &t.ctx(),
            &definition(true),
            &create,
            &create_facts(scope.clone()),
            fresh_ids(),
            &[],
        )
        .unwrap(),
    );
    assert_eq!(run.input_scope, ids);
    // validate_scope on its own: 200 resolved entries pass, 201 do not.
    assert_eq!(validate_scope(&t.ctx(), &scope).unwrap(), ids);
    let mut over = scope;
    over.push(resolved(&eng_folder()));
    assert_eq!(
        code(validate_scope(&t.ctx(), &over)),
        ErrorCode::UnprocessableEntity
    );
}

/// UPDATE-1, UPDATE-2, UPDATE-4, VIS-2: what Update needs read is decided after its refusals:
/// the rename facts only for a real rename.
#[test]
fn update_needs_rename_facts_only_for_a_new_name() {
    let def = definition(true);
    let needs = |cmd: &UpdateRun| update_needs(&who("triggerer").ctx(), &draft(), &def, cmd);
    assert_eq!(
        needs(&rename("r2")).unwrap(),
        UpdateNeeds {
            rename: true,
            start: false
        }
    );
    assert_eq!(
        needs(&rename("r1")).unwrap(),
        UpdateNeeds {
            rename: false,
            start: false
        }
    );
    let arm = UpdateRun {
        auto_start: Some(true),
        ..UpdateRun::default()
    };
    assert_eq!(
        needs(&arm).unwrap(),
        UpdateNeeds {
            rename: false,
            start: true
        }
    );
    assert_eq!(
        code(update_needs(
            &who("user_read").ctx(),
            &running(true),
            &def,
            &rename("r2")
        )),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(update_needs(
            &who("owner").ctx(),
            &running(true),
            &def,
            &rename("r2")
        )),
        ErrorCode::Conflict
    );
}

/// CREATE-3: the engine draws two ids per upload; too few is a bug of ours (`internal_error`),
/// never a half-made run.
#[test]
fn create_with_too_few_upload_ids_is_internal() {
    let cmd = CreateRun {
        uploads: vec![
            NewUpload {
                name: "a.txt".into(),
                ingestion: Ingestion::Completed,
            },
            NewUpload {
                name: "b.txt".into(),
                ingestion: Ingestion::Completed,
            },
        ],
        ..CreateRun::default()
    };
    assert_eq!(
        code(decide_create(
            &who("owner").ctx(),
            &definition(true),
            &cmd,
            &create_facts(vec![]),
            fresh_ids(),
            &[(uid(600), uid(601))],
        )),
        ErrorCode::InternalError
    );
}

/// UPDATE-7: a PENDING run accepts a PATCH that only arms it (`auto_start`, `user_message`):
/// the fields change, the state stays PENDING; a scope or name edit stays refused (above).
#[test]
fn update_7_pending_run_can_be_armed() {
    let arm = UpdateRun {
        auto_start: Some(true),
        auto_start_user_message: Some("go".into()),
        ..UpdateRun::default()
    };
    let d = decide_update(
        &who("triggerer").ctx(),
        &pending(),
        &definition(true),
        &arm,
        &UpdateFacts::default(),
    )
    .unwrap();
    let armed = Run {
        auto_start: true,
        auto_start_user_message: Some("go".into()),
        version: pending().version + 1,
        updated_at: now(),
        ..pending()
    };
    assert_eq!(armed.execution_state, ExecutionState::Pending);
    assert_eq!(d, Decision::write(put(armed, Event::Updated), ()));
    let with_scope = UpdateRun {
        input_scope: Some(Vec::new()),
        ..arm
    };
    assert_eq!(
        code(decide_update(
            &who("triggerer").ctx(),
            &pending(),
            &definition(true),
            &with_scope,
            &UpdateFacts::default(),
        )),
        ErrorCode::Conflict
    );
}

/// UPDATE-7, START-1: arming `auto_start: true` on a draft whose uploads are all `completed`
/// starts it as the caller in the same commit, with the stored message; with no upload, or a
/// failed one, it is only armed.
#[test]
fn update_7_arming_an_ingested_draft_starts_it() {
    let def = definition(true);
    let upload = part(
        210,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/a.txt"),
        Some(INPUTS),
    );
    let facts_with = |ingestion| UpdateFacts {
        start: StartFacts {
            instruction: Some(resolved_doc(
                &instruction_doc(),
                Some(&instruction_version()),
            )),
            uploads: vec![resolved_doc(
                &upload,
                Some(&version_of(211, &upload, ingestion, true)),
            )],
            ..StartFacts::default()
        },
        thread_id: uid(THREAD),
        ..UpdateFacts::default()
    };
    let arm = UpdateRun {
        auto_start: Some(true),
        auto_start_user_message: Some("from the arm".into()),
        ..UpdateRun::default()
    };
    let t = who("triggerer");
    assert!(update_needs(&t.ctx(), &draft(), &def, &arm).unwrap().start);
    let facts = facts_with(Ingestion::Completed);
    let (started, ()) = change(decide_update(&t.ctx(), &draft(), &def, &arm, &facts).unwrap());
    // The same transition as a Start of the armed draft, plus the reason.
    let armed_draft = Run {
        auto_start: true,
        auto_start_user_message: Some("from the arm".into()),
        ..draft()
    };
    let start = StartRun {
        user_message: Some("from the arm".into()),
    };
    let (mut expected, ()) = change(
        decide_start(
            &t.ctx(),
            &armed_draft,
            &def,
            &start,
            &facts.start,
            uid(THREAD),
        )
        .unwrap(),
    );
    expected.reason = Some("auto-start armed".into());
    assert_eq!(started, expected);
    assert_eq!(started.event, Event::Started);
    let RunWrite::Put(run) = &started.write else {
        panic!("a start writes the run")
    };
    assert_eq!(run.execution_state, ExecutionState::InProgress);
    assert_eq!(started.outbox.len(), 1);

    // Not ingested, or no upload at all: armed only.
    for facts in [facts_with(Ingestion::Failed), UpdateFacts::default()] {
        let (t2, ()) = change(decide_update(&t.ctx(), &draft(), &def, &arm, &facts).unwrap());
        assert_eq!(t2.event, Event::Updated);
    }
    // Disarming never starts, and needs no start facts.
    let disarm = UpdateRun {
        auto_start: Some(false),
        ..UpdateRun::default()
    };
    assert!(
        !update_needs(&t.ctx(), &draft(), &def, &disarm)
            .unwrap()
            .start
    );
}
