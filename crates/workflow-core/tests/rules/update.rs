use super::*;

/// UPDATE-1: only NOT_STARTED runs can be edited.
#[test]
fn update_1_only_drafts() {
    let w = world();
    for s in [
        Setup::Pending,
        Setup::InProgress,
        Setup::CompletedNotRequired,
        Setup::FailedAfterStart,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.update_run(&w.owner, run.id, rename("n"))),
            ErrorCode::Conflict,
            "{s:?}"
        );
    }
}

/// UPDATE-2: triggerer or admin.
#[test]
fn update_2_triggerer_or_admin() {
    let w = world();
    let run = w.draft();
    assert_eq!(
        code(w.engine.update_run(&w.user_read_write, run.id, rename("n"))),
        ErrorCode::Forbidden
    );
    assert!(w
        .engine
        .update_run(&w.triggerer, run.id, rename("n1"))
        .is_ok());
    assert!(w.engine.update_run(&w.admin, run.id, rename("n2")).is_ok());
}

/// UPDATE-3: an empty PATCH is `unprocessable_entity`.
#[test]
fn update_3_empty_patch_is_unprocessable() {
    let w = world();
    let run = w.draft();
    assert_eq!(
        code(w.engine.update_run(&w.owner, run.id, UpdateRun::default())),
        ErrorCode::UnprocessableEntity
    );
}

/// UPDATE-4: a rename follows CREATE-4, collides with siblings, and moves the folder's paths.
#[test]
fn update_4_rename_moves_paths() {
    let w = world();
    let a = w.draft();
    let b = w.draft();
    assert_eq!(
        code(w.engine.update_run(&w.owner, b.id, rename(&a.name))),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(w.engine.update_run(&w.owner, b.id, rename("x/y"))),
        ErrorCode::UnprocessableEntity
    );
    let b = w
        .engine
        .update_run(&w.owner, b.id, rename("monday"))
        .unwrap();
    assert_eq!(b.name, "monday");
    assert_eq!(b.folders.path, "/shared/eng/summarise/runs/monday");
    let inputs = w
        .engine
        .store()
        .path_part(w.tenant, b.folders.inputs_id)
        .unwrap()
        .unwrap();
    assert_eq!(inputs.path, "/shared/eng/summarise/runs/monday/inputs");
    // Renaming to its own name is fine.
    assert!(w
        .engine
        .update_run(&w.owner, b.id, rename("monday"))
        .is_ok());
}

/// UPDATE-5: scope replaces wholesale; ≤ 200 ids; kinds; unknown → not_found; unreadable →
/// forbidden; duplicates collapse, first position wins.
#[test]
fn update_5_scope_rules() {
    let w = world();
    let run = w.draft();
    let run = w
        .engine
        .update_run(
            &w.triggerer,
            run.id,
            scope(vec![w.crm.id, w.doc.id, w.crm.id]),
        )
        .unwrap();
    assert_eq!(run.input_scope, vec![w.crm.id, w.doc.id]);
    let run = w
        .engine
        .update_run(&w.triggerer, run.id, scope(vec![w.eng.id]))
        .unwrap();
    assert_eq!(run.input_scope, vec![w.eng.id]);
    assert_eq!(
        code(
            w.engine
                .update_run(&w.triggerer, run.id, scope(vec![w.secret.id]))
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.engine.update_run(
            &w.owner,
            run.id,
            scope(vec![PathPartId(uuid::Uuid::new_v4())])
        )),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            w.engine
                .update_run(&w.owner, run.id, scope(vec![w.def.id.into()]))
        ),
        ErrorCode::UnprocessableEntity
    );
    let too_many = (0..201).map(|_| w.doc.id).collect();
    assert_eq!(
        code(w.engine.update_run(&w.owner, run.id, scope(too_many))),
        ErrorCode::UnprocessableEntity
    );
    assert_eq!(
        w.engine.get_run(&w.owner, run.id).unwrap().input_scope,
        vec![w.eng.id]
    );
}
