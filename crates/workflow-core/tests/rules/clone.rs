use super::*;

/// CLONE-1: a started run is copied into a new NOT_STARTED run triggered by the caller.
#[test]
fn clone_1_new_draft() {
    let w = world();
    let src = w.run_in(Setup::CompletedApprovalPending);
    let c = w
        .engine
        .clone_run(&w.user_read, src.id, CloneRun::default())
        .unwrap();
    assert_eq!(c.execution_state, ExecutionState::NotStarted);
    assert_eq!(c.definition_id, src.definition_id);
    assert_eq!(c.triggered_by, w.user_read.user_id);
    assert_ne!(c.id, src.id);
    assert_ne!(c.folders.inputs_id, src.folders.inputs_id);
    assert!(
        c.input_scope.is_empty(),
        "include_inputs=false gives an empty scope"
    );
}

/// CLONE-2: include_inputs pins the source's own inputs by path-part id (versions stay pinned,
/// live refs stay live, uploads referenced in place), not the definition's common files.
#[test]
fn clone_2_include_inputs_pins_own_inputs() {
    let w = world();
    let cmd = CreateRun {
        input_scope: vec![w.doc.id, w.crm.id],
        ..CreateRun::default()
    };
    let run = w
        .engine
        .create_run(&w.triggerer, w.def_plain.id, cmd)
        .unwrap();
    let (_, upload) = w
        .engine
        .add_upload(
            &w.triggerer,
            run.id,
            NewUpload {
                name: "notes.txt".into(),
                ingestion: Ingestion::Completed,
            },
        )
        .unwrap();
    let run = w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .unwrap();
    let snap = run.snapshot.clone().unwrap();
    let upload_version = w.engine.store().children(w.tenant, upload.id).unwrap()[0].id;
    let c = w
        .engine
        .clone_run(
            &w.triggerer,
            run.id,
            CloneRun {
                include_inputs: true,
            },
        )
        .unwrap();
    // doc is also a common file: first origin wins (common), so it is not the run's own input.
    assert_eq!(c.input_scope, vec![w.crm.id, upload_version]);
    assert!(snap
        .inputs
        .iter()
        .any(|i| i.path_part_id == w.doc_v1.id && i.origin == InputOrigin::DefinitionCommon));
    assert!(
        w.engine
            .documents_in(w.tenant, c.folders.inputs_id)
            .unwrap()
            .is_empty(),
        "nothing copied"
    );
    let started = w
        .engine
        .start_run(&w.triggerer, c.id, StartRun::default())
        .unwrap();
    let pinned: Vec<_> = started
        .snapshot
        .unwrap()
        .inputs
        .into_iter()
        .map(|i| (i.path_part_id, i.origin))
        .collect();
    assert_eq!(
        pinned,
        vec![
            (w.doc_v1.id, InputOrigin::DefinitionCommon),
            (w.crm.id, InputOrigin::RunReference),
            (upload_version, InputOrigin::RunReference),
        ]
    );
}

/// CLONE-3: a source without snapshot → conflict.
#[test]
fn clone_3_needs_snapshot() {
    let w = world();
    for s in [Setup::Pending, Setup::NotStarted, Setup::FailedNeverStarted] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.clone_run(&w.owner, run.id, CloneRun::default())),
            ErrorCode::Conflict
        );
    }
}

/// CLONE-4: the caller must read the source and be able to create runs on its definition.
#[test]
fn clone_4_needs_create_rights() {
    let w = world();
    let src = w.run_in(Setup::CompletedNotRequired);
    assert_eq!(
        code(
            w.engine
                .clone_run(&w.user_no_grant, src.id, CloneRun::default())
        ),
        ErrorCode::NotFound
    );
    let mut def = w.def_plain.clone();
    def.is_active = false;
    w.engine
        .store()
        .apply_catalog(&[CatalogWrite::Definition(Box::new(def))])
        .unwrap();
    assert_eq!(
        code(w.engine.clone_run(&w.owner, src.id, CloneRun::default())),
        ErrorCode::Conflict
    );
}
