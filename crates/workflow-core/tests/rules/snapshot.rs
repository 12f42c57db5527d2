use super::*;

fn started_with(w: &World<MemoryStore>, cmd: CreateRun, def: &Definition) -> Snapshot {
    let run = w.engine.create_run(&w.owner, def.id, cmd).unwrap();
    w.engine
        .start_run(&w.owner, run.id, StartRun::default())
        .unwrap()
        .snapshot
        .unwrap()
}

/// SNAP-1: name, duration and approval copied; the instruction pinned to its active version,
/// source null when there is no instruction.
#[test]
fn snap_1_definition_fields_and_instruction() {
    let w = world();
    let s = started_with(&w, CreateRun::default(), &w.def);
    assert_eq!(
        (
            s.workflow_name.as_str(),
            s.max_run_duration_seconds,
            s.approval_required
        ),
        ("summarise", 600, true)
    );
    let active = w
        .engine
        .store()
        .children(w.tenant, w.instruction.id)
        .unwrap()[0]
        .clone();
    assert_eq!(s.instruction.path_part_id, Some(active.id));
    assert!(s.instruction.source.is_some());
    let bare = definition(&w, "bare", true, false);
    let s = started_with(&w, CreateRun::default(), &bare);
    assert_eq!(
        (s.instruction.path_part_id, s.instruction.source),
        (None, None)
    );
}

/// SNAP-2: DOCUMENT → its active version (RUN_REFERENCE); a DOCUMENT_VERSION stays; FOLDER and
/// DATA_SOURCE stay live.
#[test]
fn snap_2_references_pinned() {
    let w = world();
    let bare = definition(&w, "bare2", true, false);
    let s = started_with(
        &w,
        CreateRun {
            input_scope: vec![w.doc.id, w.eng.id, w.crm.id],
            ..CreateRun::default()
        },
        &bare,
    );
    let got: Vec<_> = s
        .inputs
        .iter()
        .map(|i| (i.path_part_id, i.part_type, i.origin))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                w.doc_v1.id,
                PathPartKind::DocumentVersion,
                InputOrigin::RunReference
            ),
            (w.eng.id, PathPartKind::Folder, InputOrigin::RunReference),
            (
                w.crm.id,
                PathPartKind::DataSource,
                InputOrigin::RunReference
            ),
        ]
    );
    // A later new version does not move an already pinned version.
    let s2 = started_with(
        &w,
        CreateRun {
            input_scope: vec![w.doc_v1.id],
            ..CreateRun::default()
        },
        &bare,
    );
    w.engine
        .put_version(
            w.tenant,
            w.doc.id,
            PathPartId(uuid::Uuid::new_v4()),
            Ingestion::Completed,
            true,
        )
        .unwrap();
    assert_eq!(s2.inputs[0].path_part_id, w.doc_v1.id);
}

/// SNAP-3: uploads pinned to their version with origin RUN_UPLOAD.
#[test]
fn snap_3_uploads_pinned() {
    let w = world();
    let run = w
        .engine
        .create_run(&w.owner, w.def_plain.id, CreateRun::default())
        .unwrap();
    let (_, doc) = w
        .engine
        .add_upload(
            &w.owner,
            run.id,
            NewUpload {
                name: "u.txt".into(),
                ingestion: Ingestion::Completed,
            },
        )
        .unwrap();
    let v = w.engine.store().children(w.tenant, doc.id).unwrap()[0].clone();
    let s = w
        .engine
        .start_run(&w.owner, run.id, StartRun::default())
        .unwrap()
        .snapshot
        .unwrap();
    let upload = s
        .inputs
        .iter()
        .find(|i| i.origin == InputOrigin::RunUpload)
        .unwrap();
    assert_eq!(
        (upload.path_part_id, upload.part_type),
        (v.id, PathPartKind::DocumentVersion)
    );
    assert_eq!(upload.materialized_path, v.path);
}

/// SNAP-4: common files record and continue: NOT_FOUND, NO_ACCESS, UNRESOLVABLE; the run starts.
#[test]
fn snap_4_common_files_record_and_continue() {
    let w = world();
    let no_version = w
        .engine
        .put_part(
            w.tenant,
            PathPartId(uuid::Uuid::new_v4()),
            PathPartKind::Document,
            "empty.md",
            Some(w.eng.id),
        )
        .unwrap();
    let missing = PathPartId(uuid::Uuid::new_v4());
    let mut def = definition(&w, "commons", true, false);
    def.common_file_ids = vec![missing, w.secret.id, no_version.id, w.doc.id];
    w.engine
        .store()
        .apply_catalog(&[CatalogWrite::Definition(Box::new(def.clone()))])
        .unwrap();
    let run = w
        .engine
        .create_run(&w.triggerer, def.id, CreateRun::default())
        .unwrap();
    let run = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    assert_eq!(run.execution_state, ExecutionState::InProgress);
    let s = run.snapshot.unwrap();
    let excluded: Vec<_> = s
        .excluded_common_files
        .iter()
        .map(|e| (e.path_part_id, e.reason))
        .collect();
    assert_eq!(
        excluded,
        vec![
            (missing, ExclusionReason::NotFound),
            (w.secret.id, ExclusionReason::NoAccess),
            (no_version.id, ExclusionReason::Unresolvable),
        ]
    );
    assert_eq!(s.inputs.len(), 1);
    assert_eq!(
        (s.inputs[0].path_part_id, s.inputs[0].origin),
        (w.doc_v1.id, InputOrigin::DefinitionCommon)
    );
}

/// SNAP-5: deduplicated by path-part id, first origin wins (common, references, uploads), in a
/// deterministic order.
#[test]
fn snap_5_dedup_first_origin_wins() {
    let w = world();
    // def has doc as a common file; the scope also names doc and its version.
    let a = started_with(
        &w,
        CreateRun {
            input_scope: vec![w.crm.id, w.doc.id, w.doc_v1.id],
            ..CreateRun::default()
        },
        &w.def,
    );
    let ids: Vec<_> = a
        .inputs
        .iter()
        .map(|i| (i.path_part_id, i.origin))
        .collect();
    assert_eq!(
        ids,
        vec![
            (w.doc_v1.id, InputOrigin::DefinitionCommon),
            (w.crm.id, InputOrigin::RunReference)
        ]
    );
    let b = started_with(
        &w,
        CreateRun {
            input_scope: vec![w.crm.id, w.doc.id, w.doc_v1.id],
            ..CreateRun::default()
        },
        &w.def,
    );
    assert_eq!(a.inputs, b.inputs, "deterministic");
}

/// SNAP-6: the user message and skills (the definition's, then the run's) are pinned.
#[test]
fn snap_6_message_and_skills() {
    let w = world();
    let extra = uuid::Uuid::new_v4();
    let run = w
        .engine
        .create_run(
            &w.owner,
            w.def.id,
            CreateRun {
                selected_skill_ids: vec![extra, w.def.selected_skill_ids[0]],
                ..CreateRun::default()
            },
        )
        .unwrap();
    let s = w
        .engine
        .start_run(
            &w.owner,
            run.id,
            StartRun {
                user_message: Some("hi".into()),
            },
        )
        .unwrap()
        .snapshot
        .unwrap();
    assert_eq!(
        s.selected_skill_ids,
        vec![w.def.selected_skill_ids[0], extra]
    );
    assert_eq!(s.user_message.as_deref(), Some("hi"));
}

/// SNAP-7: the snapshot never changes after Start, through catalog changes, stop and retry.
#[test]
fn snap_7_snapshot_immutable() {
    let w = world();
    let run = w.running();
    let snap = run.snapshot.clone();
    let mut def = w.def.clone();
    def.name = "renamed".into();
    def.approval_required = false;
    w.engine
        .store()
        .apply_catalog(&[CatalogWrite::Definition(Box::new(def))])
        .unwrap();
    w.engine
        .put_version(
            w.tenant,
            w.doc.id,
            PathPartId(uuid::Uuid::new_v4()),
            Ingestion::Completed,
            true,
        )
        .unwrap();
    w.engine.stop_run(&w.owner, run.id).unwrap();
    let r = w.engine.retry_run(&w.owner, run.id).unwrap();
    assert_eq!(r.snapshot, snap);
    let done = w
        .engine
        .callback(&w.owner, run.id, cb(CallbackStatus::Completed, None))
        .unwrap()
        .run;
    assert_eq!(done.snapshot, snap);
    assert_eq!(
        done.approval_state,
        ApprovalState::Pending,
        "CB-2 reads the snapshot, not the definition"
    );
}
