//! Clone (CLONE-*), approve (APPROVE-*), delete (DELETE-*), get (GET-1) and the thread gate
//! (THREAD-1).

use super::*;

// ================================================================================== clone

fn clone_source() -> Run {
    let mut run = completed(true, ApprovalState::Pending);
    run.selected_skill_ids = vec![uid(SKILL_3)];
    let snap = run.snapshot.as_mut().unwrap();
    snap.inputs = vec![
        InputSnapshot {
            path_part_id: pid(1181),
            materialized_path: "/shared/eng/common.md/x".into(),
            part_type: PathPartKind::DocumentVersion,
            origin: InputOrigin::DefinitionCommon,
        },
        InputSnapshot {
            path_part_id: pid(1191),
            materialized_path: "/shared/eng/spec.md/y".into(),
            part_type: PathPartKind::DocumentVersion,
            origin: InputOrigin::RunReference,
        },
        InputSnapshot {
            path_part_id: pid(194),
            materialized_path: "/shared/eng/crm".into(),
            part_type: PathPartKind::DataSource,
            origin: InputOrigin::RunReference,
        },
        InputSnapshot {
            path_part_id: pid(211),
            materialized_path: format!("{RUN_PATH}/inputs/a.txt/v"),
            part_type: PathPartKind::DocumentVersion,
            origin: InputOrigin::RunUpload,
        },
    ];
    run
}

/// CLONE-1, CLONE-2: clone writes nothing for the source and answers the new run's create
/// command: the source snapshot's references and uploads pinned by id (common files left to
/// the clone's own Start), the source's skills, no name, no key, no auto-start; and that
/// command creates a NOT_STARTED run triggered by the caller.
#[test]
fn clone_1_and_2_derived_create_with_inputs() {
    let reader = who("user_read");
    let d = decide_clone(
        &reader.ctx(),
        &clone_source(),
        &definition(true),
        CloneRun {
            include_inputs: true,
        },
    )
    .unwrap();
    let expected = CreateRun {
        name: None,
        input_scope: vec![pid(1191), pid(194), pid(211)],
        idempotency_key: None,
        auto_start: false,
        auto_start_user_message: None,
        selected_skill_ids: vec![uid(SKILL_3)],
        uploads: vec![],
    };
    assert_eq!(d, Decision::unchanged(expected.clone()));

    let spec_v = part(
        1191,
        PathPartKind::DocumentVersion,
        "/shared/eng/spec.md/y",
        None,
    );
    let crm = part(194, PathPartKind::DataSource, "/shared/eng/crm", Some(ENG));
    let upload_v = part(
        211,
        PathPartKind::DocumentVersion,
        &format!("{RUN_PATH}/inputs/a.txt/v"),
        None,
    );
    let facts = create_facts(vec![resolved(&spec_v), resolved(&crm), resolved(&upload_v)]);
    let created = decide_create(
        &reader.ctx(),
        &definition(true),
        &expected,
        &facts,
        fresh_ids(),
        &[],
    )
    .unwrap()
    .answer;
    assert_eq!(created.execution_state, ExecutionState::NotStarted);
    assert_eq!(created.triggered_by, user_id(USER_READ));
    assert_eq!(created.input_scope, vec![pid(1191), pid(194), pid(211)]);
    assert_eq!(created.snapshot, None);
}

/// CLONE-2: `include_inputs = false` gives an empty scope.
#[test]
fn clone_2_without_inputs_has_an_empty_scope() {
    let d = decide_clone(
        &who("triggerer").ctx(),
        &clone_source(),
        &definition(true),
        CloneRun {
            include_inputs: false,
        },
    )
    .unwrap();
    assert_eq!(
        d,
        Decision::unchanged(CreateRun {
            selected_skill_ids: vec![uid(SKILL_3)],
            ..CreateRun::default()
        })
    );
}

/// CLONE-3, CLONE-4, VIS-1: no snapshot is `conflict`; an unreadable source `not_found`; a
/// definition that can no longer have runs `conflict`.
#[test]
fn clone_3_and_4_refusals() {
    let def = definition(true);
    let cmd = CloneRun {
        include_inputs: true,
    };
    for run in [pending(), draft(), failed_never_started()] {
        assert_eq!(
            code(decide_clone(&who("owner").ctx(), &run, &def, cmd)),
            ErrorCode::Conflict
        );
    }
    for w in ["user_no_grant", "other_tenant_owner"] {
        assert_eq!(
            code(decide_clone(&who(w).ctx(), &clone_source(), &def, cmd)),
            ErrorCode::NotFound
        );
    }
    let inactive = Definition {
        is_active: false,
        ..def.clone()
    };
    let template = Definition {
        is_template: true,
        ..def
    };
    for def in [inactive, template] {
        assert_eq!(
            code(decide_clone(
                &who("triggerer").ctx(),
                &clone_source(),
                &def,
                cmd
            )),
            ErrorCode::Conflict
        );
    }
}

// ================================================================================== approve

fn approve(reason: Option<&str>) -> Approve {
    Approve {
        state: ApprovalState::Approved,
        reason: reason.map(Into::into),
    }
}

fn output(n: u128, name: &str) -> PathPart {
    let mut p = part(
        n,
        PathPartKind::Document,
        &format!("{RUN_PATH}/outputs/{name}"),
        Some(OUTPUTS),
    );
    p.approval_state = ApprovalState::Pending;
    p
}

/// APPROVE-3: every output DOCUMENT and then the run are approved in ONE transition, each with
/// the same record (who, when, reason); a non-document under `outputs/` is left alone.
#[test]
fn approve_3_outputs_and_run_in_one_transition() {
    let rw = who("user_read_write");
    let run = completed(true, ApprovalState::Pending);
    let folder = part(
        222,
        PathPartKind::Folder,
        &format!("{RUN_PATH}/outputs/tmp"),
        Some(OUTPUTS),
    );
    let outputs = [output(220, "a.md"), folder, output(221, "b.md")];
    let d = decide_approve(
        &rw.ctx(),
        &run,
        &definition(true),
        &approve(Some("lgtm")),
        &outputs,
    )
    .unwrap();
    let record = ApprovalRecord {
        by: user_id(USER_READ_WRITE),
        at: now(),
        reason: Some("lgtm".into()),
    };
    let approved = |mut p: PathPart| {
        p.approval_state = ApprovalState::Approved;
        p.approval = Some(record.clone());
        put_part(p)
    };
    let next = Run {
        approval_state: ApprovalState::Approved,
        approval: Some(record.clone()),
        version: 4,
        updated_at: now(),
        ..run
    };
    let mut t = put(next, Event::Approved);
    t.reason = Some("lgtm".into());
    t.catalog = vec![approved(output(220, "a.md")), approved(output(221, "b.md"))];
    assert_eq!(d, Decision::write(t, ()));
}

/// APPROVE-3 (all or nothing), APPROVE-5: a refused approval decides no write at all, neither
/// for the run nor for any output.
#[test]
fn approve_3_refusal_writes_nothing() {
    let run = completed(true, ApprovalState::Pending);
    let outputs = [output(220, "a.md")];
    for w in ["triggerer", "triggerer_assumed", "user_read"] {
        let r = decide_approve(
            &who(w).ctx(),
            &run,
            &definition(true),
            &approve(None),
            &outputs,
        );
        assert_eq!(code(r), ErrorCode::Forbidden, "{w}");
    }
    let owner_agent = who("owner").assumed();
    assert_eq!(
        code(decide_approve(
            &owner_agent.ctx(),
            &run,
            &definition(true),
            &approve(None),
            &outputs
        )),
        ErrorCode::Forbidden
    );
}

/// APPROVE-4: an approved run is answered unchanged.
#[test]
fn approve_4_already_approved_is_unchanged() {
    assert_unchanged(
        decide_approve(
            &who("owner").ctx(),
            &completed(true, ApprovalState::Approved),
            &definition(true),
            &approve(None),
            &[output(220, "a.md")],
        ),
        (),
    );
}

/// APPROVE-1, APPROVE-2, APPROVE-5, VIS-1, VIS-2: fields first, then read, then the approver's
/// permission, then the state.
#[test]
fn approve_refusals_and_their_order() {
    let def = definition(true);
    let call = |w: &Who, run: &Run, cmd: &Approve| decide_approve(&w.ctx(), run, &def, cmd, &[]);
    // APPROVE-1
    for state in [ApprovalState::Pending, ApprovalState::NotRequired] {
        let bad = Approve {
            state,
            reason: None,
        };
        assert_eq!(
            code(call(
                &who("user_no_grant"),
                &completed(true, ApprovalState::Pending),
                &bad
            )),
            ErrorCode::UnprocessableEntity
        );
    }
    assert_eq!(
        code(call(
            &who("owner"),
            &completed(true, ApprovalState::Pending),
            &approve(Some(&"x".repeat(2049)))
        )),
        ErrorCode::UnprocessableEntity
    );
    // APPROVE-2: not COMPLETED, or a snapshot that needs no approval.
    for run in [
        pending(),
        draft(),
        running(true),
        completed(false, ApprovalState::NotRequired),
        failed_after_start(),
        failed_never_started(),
    ] {
        assert_eq!(
            code(call(&who("user_read_write"), &run, &approve(None))),
            ErrorCode::Conflict,
            "{}",
            run.execution_state
        );
        // VIS-2: a reader without write access is forbidden whatever the state.
        assert_eq!(
            code(call(&who("user_read"), &run, &approve(None))),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(call(&who("admin").assumed(), &run, &approve(None))),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(call(&who("other_tenant_owner"), &run, &approve(None))),
            ErrorCode::NotFound
        );
    }
}

// ================================================================================== delete

/// DELETE-3: the run row goes and its folder with it: every descendant removed deepest-first
/// (the subtree in reverse path order), then the run folder; no outbox.
#[test]
fn delete_3_removes_the_subtree_in_reverse_then_the_folder() {
    let upload = part(
        210,
        PathPartKind::Document,
        &format!("{RUN_PATH}/inputs/a.txt"),
        Some(INPUTS),
    );
    let upload_v = version_of(211, &upload, Ingestion::Completed, true);
    let subtree = [
        discussions_folder(),
        inputs_folder(),
        upload,
        upload_v,
        outputs_folder(),
    ];
    let d = decide_delete(
        &who("triggerer").ctx(),
        &completed(true, ApprovalState::Pending),
        &definition(true),
        &subtree,
    )
    .unwrap();
    let remove = |n| CatalogWrite::RemovePart(tenant(), pid(n));
    let t = Transition {
        write: RunWrite::Delete,
        event: Event::Deleted,
        reason: None,
        outbox: vec![],
        catalog: vec![
            remove(OUTPUTS),
            remove(211),
            remove(210),
            remove(INPUTS),
            remove(DISCUSSIONS),
            remove(RUN),
        ],
    };
    assert_eq!(d, Decision::write(t, ()));
}

/// DELETE-1, DELETE-2, VIS-1, VIS-2: IN_PROGRESS is `conflict` for a manager, `forbidden` for a
/// reader who may not delete, `not_found` for a stranger; every other state can be deleted.
#[test]
fn delete_1_and_2_refusals() {
    let def = definition(true);
    let del = |w: &str, run: &Run| decide_delete(&who(w).ctx(), run, &def, &[]);
    assert_eq!(code(del("owner", &running(true))), ErrorCode::Conflict);
    assert_eq!(code(del("user_read", &running(true))), ErrorCode::Forbidden);
    assert_eq!(code(del("user_read_write", &draft())), ErrorCode::Forbidden);
    assert_eq!(code(del("user_no_grant", &draft())), ErrorCode::NotFound);
    for run in [
        pending(),
        draft(),
        completed(true, ApprovalState::Approved),
        failed_after_start(),
        failed_never_started(),
    ] {
        let (t, ()) = change(del("triggerer_assumed", &run).unwrap());
        assert_eq!(t.write, RunWrite::Delete);
        assert_eq!(
            t.catalog,
            vec![CatalogWrite::RemovePart(tenant(), pid(RUN))]
        );
    }
}

// ================================================================================== get, thread

/// GET-1, VIS-1: any reader gets the run unchanged (the triggerer even without a grant); a
/// stranger or another tenant `not_found`.
#[test]
fn get_1_readers_and_strangers() {
    let def = definition(true);
    for w in [
        "owner",
        "admin",
        "triggerer",
        "triggerer_assumed",
        "user_read",
        "user_read_write",
    ] {
        assert_unchanged(decide_get(&who(w).ctx(), &running(true), &def), ());
    }
    let grantless_triggerer = Who {
        grants: vec![],
        ..who("triggerer")
    };
    assert_unchanged(
        decide_get(&grantless_triggerer.ctx(), &running(true), &def),
        (),
    );
    for w in ["user_no_grant", "other_tenant_owner"] {
        assert_eq!(
            code(decide_get(&who(w).ctx(), &running(true), &def)),
            ErrorCode::NotFound
        );
    }
    // A grant on a sibling path with a common prefix does not cover the definition.
    let near = Who {
        grants: vec![grant("/shared/eng/summ", Capability::ReadWrite)],
        ..who("user_read")
    };
    assert_eq!(
        code(decide_get(&near.ctx(), &running(true), &def)),
        ErrorCode::NotFound
    );
}

/// THREAD-1: a new USER message is `run_busy` while IN_PROGRESS, accepted otherwise; VIS-1
/// first.
#[test]
fn thread_1_busy_only_while_in_progress() {
    let def = definition(true);
    assert_eq!(
        code(decide_thread_message(
            &who("triggerer").ctx(),
            &running(true),
            &def
        )),
        ErrorCode::RunBusy
    );
    assert_eq!(
        code(decide_thread_message(
            &who("user_no_grant").ctx(),
            &running(true),
            &def
        )),
        ErrorCode::NotFound
    );
    for run in [
        pending(),
        draft(),
        completed(true, ApprovalState::Pending),
        failed_after_start(),
    ] {
        assert_unchanged(
            decide_thread_message(&who("user_read").ctx(), &run, &def),
            (),
        );
    }
}

/// APPROVE-2, APPROVE-3: the outputs are read only for a COMPLETED run, the only state that
/// can be approved.
#[test]
fn approve_needs_outputs_only_when_completed() {
    for run in [
        completed(true, ApprovalState::Pending),
        completed(true, ApprovalState::Approved),
        completed(false, ApprovalState::NotRequired),
    ] {
        assert!(approve_needs_outputs(&run));
    }
    for run in [
        pending(),
        draft(),
        running(true),
        failed_after_start(),
        failed_never_started(),
    ] {
        assert!(!approve_needs_outputs(&run), "{}", run.execution_state);
    }
}
