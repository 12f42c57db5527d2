use super::*;

/// CREATE-1: the definition must exist in the actor's tenant and be readable.
#[test]
fn create_1_definition_must_be_readable() {
    let w = world();
    assert_eq!(
        code(
            w.engine
                .create_run(&w.user_no_grant, w.def.id, CreateRun::default())
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            w.engine
                .create_run(&w.other_owner, w.def.id, CreateRun::default())
        ),
        ErrorCode::NotFound
    );
    let unknown = DefinitionId(uuid::Uuid::new_v4());
    assert_eq!(
        code(w.engine.create_run(&w.owner, unknown, CreateRun::default())),
        ErrorCode::NotFound
    );
    assert!(w
        .engine
        .create_run(&w.user_read, w.def.id, CreateRun::default())
        .is_ok());
}

/// CREATE-2: inactive definitions and templates cannot have runs.
#[test]
fn create_2_inactive_or_template_conflicts() {
    let w = world();
    let inactive = definition(&w, "off", false, false);
    let template = definition(&w, "tpl", true, true);
    assert_eq!(
        code(
            w.engine
                .create_run(&w.owner, inactive.id, CreateRun::default())
        ),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(
            w.engine
                .create_run(&w.owner, template.id, CreateRun::default())
        ),
        ErrorCode::Conflict
    );
}

/// CREATE-3: a new run is a NOT_STARTED draft named after its own id.
#[test]
fn create_3_new_run_defaults() {
    let w = world();
    let run = w.draft();
    assert_eq!(run.execution_state, ExecutionState::NotStarted);
    assert_eq!(run.attempt, 0);
    assert!(run.snapshot.is_none() && run.started_at.is_none() && run.completed_at.is_none());
    assert_eq!(run.approval_state, ApprovalState::NotRequired);
    assert_eq!(run.name, run.id.to_string());
    assert_eq!(run.triggered_by, w.triggerer.user_id);
    assert_eq!(
        run.folders.path,
        format!("/shared/eng/summarise/runs/{}", run.id)
    );
    let kids: Vec<String> = w
        .engine
        .store()
        .children(w.tenant, run.id.into())
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(kids, vec!["discussions", "inputs", "outputs"]);
}

/// CREATE-4: name length, characters and uniqueness among the definition's runs.
#[test]
fn create_4_name_validation_and_uniqueness() {
    let w = world();
    let named = |n: &str| CreateRun {
        name: Some(n.into()),
        ..CreateRun::default()
    };
    for bad in ["", "a/b", "tab\tname", &"x".repeat(256)] {
        assert_eq!(
            code(w.engine.create_run(&w.owner, w.def.id, named(bad))),
            ErrorCode::UnprocessableEntity,
            "{bad:?}"
        );
    }
    w.engine
        .create_run(&w.owner, w.def.id, named("weekly"))
        .unwrap();
    assert_eq!(
        code(w.engine.create_run(&w.owner, w.def.id, named("weekly"))),
        ErrorCode::Conflict
    );
    assert!(w
        .engine
        .create_run(&w.owner, w.def_plain.id, named("weekly"))
        .is_ok());
}

/// CREATE-5: the input scope is validated like UPDATE-5.
#[test]
fn create_5_scope_validated() {
    let w = world();
    let with = |ids: Vec<PathPartId>| CreateRun {
        input_scope: ids,
        ..CreateRun::default()
    };
    let run = w
        .engine
        .create_run(
            &w.triggerer,
            w.def.id,
            with(vec![w.doc.id, w.crm.id, w.doc.id]),
        )
        .unwrap();
    assert_eq!(run.input_scope, vec![w.doc.id, w.crm.id]);
    assert_eq!(
        code(
            w.engine
                .create_run(&w.triggerer, w.def.id, with(vec![w.secret.id]))
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .create_run(&w.owner, w.def.id, with(vec![w.def.id.into()]))
        ),
        ErrorCode::UnprocessableEntity
    );
    assert_eq!(
        code(w.engine.create_run(
            &w.owner,
            w.def.id,
            with(vec![PathPartId(uuid::Uuid::new_v4())])
        )),
        ErrorCode::NotFound
    );
}

/// CREATE-6: the same idempotency key by the same actor returns the first run, unchanged.
#[test]
fn create_6_idempotency_key_returns_first_run() {
    let w = world();
    let cmd = CreateRun {
        idempotency_key: Some("abc".into()),
        ..CreateRun::default()
    };
    let first = w
        .engine
        .create_run(&w.triggerer, w.def.id, cmd.clone())
        .unwrap();
    let again = w
        .engine
        .create_run(&w.triggerer, w.def.id, cmd.clone())
        .unwrap();
    assert_eq!(first, again);
    let other_actor = w.engine.create_run(&w.owner, w.def.id, cmd).unwrap();
    assert_ne!(other_actor.id, first.id);
    assert_eq!(
        w.engine
            .list_runs(&w.owner, ListRuns::default())
            .unwrap()
            .total,
        2
    );
}

/// CREATE-7: auto_start and its message are stored; the message is at most 4000 characters.
#[test]
fn create_7_auto_start_stored() {
    let w = world();
    let cmd = CreateRun {
        auto_start: true,
        auto_start_user_message: Some("go".into()),
        ..CreateRun::default()
    };
    let run = w.engine.create_run(&w.triggerer, w.def.id, cmd).unwrap();
    assert!(run.auto_start);
    assert_eq!(run.auto_start_user_message.as_deref(), Some("go"));
    let long = CreateRun {
        auto_start_user_message: Some("x".repeat(4001)),
        ..CreateRun::default()
    };
    assert_eq!(
        code(w.engine.create_run(&w.triggerer, w.def.id, long)),
        ErrorCode::UnprocessableEntity
    );
}

/// GET-1: any reader gets the run.
#[test]
fn get_1_readers_get_the_run() {
    let w = world();
    let run = w.draft();
    for a in [
        &w.owner,
        &w.admin,
        &w.triggerer,
        &w.user_read,
        &w.user_read_write,
    ] {
        assert_eq!(w.engine.get_run(a, run.id).unwrap(), run);
    }
}
