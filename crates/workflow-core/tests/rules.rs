//! One test (at least) per rule ID of SPEC sections 1–5 and ERR-*, each named in its doc
//! comment. They run on the memory store through the public engine API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use workflow_conformance::world::{Setup, World};
use workflow_core::*;
use workflow_store_memory::MemoryStore;

fn world() -> World<MemoryStore> {
    World::new(MemoryStore::new())
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.expect_err("expected a refusal").code()
}

fn cb(status: CallbackStatus, attempt: Option<u32>) -> Callback {
    let error = (status == CallbackStatus::Failed).then(|| "boom".to_string());
    Callback {
        status,
        error,
        attempt,
    }
}

fn approve() -> Approve {
    Approve {
        state: ApprovalState::Approved,
        reason: Some("looks right".into()),
    }
}

fn rename(name: &str) -> UpdateRun {
    UpdateRun {
        name: Some(name.into()),
        ..UpdateRun::default()
    }
}

fn scope(ids: Vec<PathPartId>) -> UpdateRun {
    UpdateRun {
        input_scope: Some(ids),
        ..UpdateRun::default()
    }
}

// ------------------------------------------------------------------------------ visibility

/// VIS-1: other tenants and users without a grant get `not_found` for every operation; readers
/// who may not change a run get `forbidden`.
#[test]
fn vis_1_unreadable_is_not_found_readable_is_forbidden() {
    let w = world();
    let run = w.running();
    for actor in [&w.other_owner, &w.user_no_grant] {
        assert_eq!(code(w.engine.get_run(actor, run.id)), ErrorCode::NotFound);
        assert_eq!(code(w.engine.stop_run(actor, run.id)), ErrorCode::NotFound);
        assert_eq!(
            code(w.engine.delete_run(actor, run.id)),
            ErrorCode::NotFound
        );
    }
    assert_eq!(
        code(w.engine.stop_run(&w.user_read, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.get_run(&w.user_read, run.id).is_ok());
}

/// VIS-2: the permission check comes before the state check.
#[test]
fn vis_2_permission_before_state() {
    let w = world();
    let done = w.run_in(Setup::CompletedNotRequired);
    assert_eq!(
        code(w.engine.stop_run(&w.user_read, done.id)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .start_run(&w.user_read_write, done.id, StartRun::default())
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.engine.start_run(&w.owner, done.id, StartRun::default())),
        ErrorCode::Conflict
    );
}

// ---------------------------------------------------------------------------------- create

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

fn definition(w: &World<MemoryStore>, name: &str, active: bool, template: bool) -> Definition {
    w.engine
        .create_definition(
            &w.owner,
            NewDefinition {
                id: None,
                parent_id: w.eng.id,
                name: name.into(),
                instruction_id: None,
                max_run_duration_seconds: None,
                approval_required: false,
                is_active: active,
                is_template: template,
                common_file_ids: vec![],
                selected_skill_ids: vec![],
                create_empty_instruction: false,
            },
        )
        .unwrap()
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

// ---------------------------------------------------------------------------------- update

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

// ----------------------------------------------------------------------------------- start

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

// ------------------------------------------------------------------------------------ stop

/// STOP-1: IN_PROGRESS → FAILED "Stopped by user", completed_at set, cancel queued; a failing
/// dispatcher does not fail the stop.
#[test]
fn stop_1_fails_run_and_queues_cancel() {
    let w = world();
    let run = w.running();
    w.dispatcher.set_failing(true);
    let stopped = w.engine.stop_run(&w.triggerer, run.id).unwrap();
    assert_eq!(stopped.execution_state, ExecutionState::Failed);
    assert_eq!(stopped.error.as_deref(), Some("Stopped by user"));
    assert_eq!(stopped.completed_at, Some(w.engine.now()));
    let queued = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    assert!(
        matches!(&queued.last().unwrap().message, OutboxMessage::Cancel(c) if c.key.attempt == 1)
    );
    w.dispatcher.set_failing(false);
    w.engine.relay_outbox().unwrap();
    assert_eq!(
        w.dispatcher.cancel_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
}

/// STOP-2: terminal, NOT_STARTED and PENDING runs are returned unchanged.
#[test]
fn stop_2_idempotent() {
    let w = world();
    for s in [
        Setup::Pending,
        Setup::NotStarted,
        Setup::CompletedApprovalPending,
        Setup::FailedAfterStart,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            w.engine.stop_run(&w.triggerer, run.id).unwrap(),
            run,
            "{s:?}"
        );
        assert_eq!(
            w.engine.stop_run(&w.triggerer, run.id).unwrap(),
            run,
            "{s:?}"
        );
    }
}

/// STOP-3: a run stranded IN_PROGRESS (its runner gone, its dispatch never delivered) is
/// recovered by Stop.
#[test]
fn stop_3_recovers_stranded_run() {
    let w = world();
    w.dispatcher.set_failing(true);
    let run = w.running();
    assert!(w.dispatcher.dispatch_keys().is_empty(), "never delivered");
    let stopped = w.engine.stop_run(&w.owner, run.id).unwrap();
    assert_eq!(stopped.execution_state, ExecutionState::Failed);
    assert_eq!(w.engine.retry_run(&w.owner, run.id).unwrap().attempt, 2);
}

/// STOP-4: triggerer or admin.
#[test]
fn stop_4_triggerer_or_admin() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.stop_run(&w.user_read_write, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.stop_run(&w.admin, run.id).is_ok());
}

// -------------------------------------------------------------------------------- callback

/// CB-1: COMPLETED/FAILED terminal write with completed_at and the error; error ≤ 8192.
#[test]
fn cb_1_terminal_write() {
    let w = world();
    let run = w.running();
    let long = Callback {
        status: CallbackStatus::Failed,
        error: Some("e".repeat(8193)),
        attempt: None,
    };
    assert_eq!(
        code(w.engine.callback(&w.triggerer, run.id, long)),
        ErrorCode::UnprocessableEntity
    );
    let r = w
        .engine
        .callback(
            &w.triggerer.clone().assumed(),
            run.id,
            cb(CallbackStatus::Failed, Some(1)),
        )
        .unwrap();
    assert_eq!(r.run.execution_state, ExecutionState::Failed);
    assert_eq!(r.run.error.as_deref(), Some("boom"));
    assert_eq!(r.run.completed_at, Some(w.engine.now()));
}

/// CB-2: COMPLETED sets approval pending when the snapshot requires it, else not_required.
#[test]
fn cb_2_approval_pending_when_required() {
    let w = world();
    assert_eq!(
        w.run_in(Setup::CompletedApprovalPending).approval_state,
        ApprovalState::Pending
    );
    assert_eq!(
        w.run_in(Setup::CompletedNotRequired).approval_state,
        ApprovalState::NotRequired
    );
}

/// CB-3: against a terminal run nothing is written and the answer is already_terminal.
#[test]
fn cb_3_first_terminal_writer_wins() {
    let w = world();
    let run = w.run_in(Setup::CompletedNotRequired);
    let r = w
        .engine
        .callback(&w.triggerer, run.id, cb(CallbackStatus::Failed, None))
        .unwrap();
    assert_eq!(r.outcome, CallbackOutcome::AlreadyTerminal);
    assert_eq!(r.run, run);
}

/// CB-4: a stale attempt writes nothing: a late attempt-1 callback cannot finish attempt 2.
#[test]
fn cb_4_stale_attempt_ignored() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    let retried = w.engine.retry_run(&w.triggerer, run.id).unwrap();
    assert_eq!(retried.attempt, 2);
    let late = w
        .engine
        .callback(&w.triggerer, run.id, cb(CallbackStatus::Completed, Some(1)))
        .unwrap();
    assert_eq!(late.outcome, CallbackOutcome::StaleAttempt);
    assert_eq!(late.run, retried);
    let now = w
        .engine
        .callback(&w.triggerer, run.id, cb(CallbackStatus::Completed, Some(2)))
        .unwrap();
    assert_eq!(now.outcome, CallbackOutcome::Updated);
}

/// CB-5: a run never started → conflict.
#[test]
fn cb_5_never_started_conflicts() {
    let w = world();
    for s in [Setup::Pending, Setup::NotStarted] {
        let run = w.run_in(s);
        assert_eq!(
            code(
                w.engine
                    .callback(&w.triggerer, run.id, cb(CallbackStatus::Completed, None))
            ),
            ErrorCode::Conflict
        );
    }
}

/// CB-6: only the triggerer (assumed or not) or an admin.
#[test]
fn cb_6_triggerer_or_admin() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.callback(
            &w.user_read_write,
            run.id,
            cb(CallbackStatus::Completed, None)
        )),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.engine.callback(
            &w.user_read.clone().assumed(),
            run.id,
            cb(CallbackStatus::Completed, None)
        )),
        ErrorCode::Forbidden
    );
    assert!(w
        .engine
        .callback(
            &w.triggerer.clone().assumed(),
            run.id,
            cb(CallbackStatus::Completed, None)
        )
        .is_ok());
}

/// CB-7: a successful write answers updated.
#[test]
fn cb_7_updated() {
    let w = world();
    let run = w.running();
    let r = w
        .engine
        .callback(&w.admin, run.id, cb(CallbackStatus::Completed, None))
        .unwrap();
    assert_eq!(r.outcome, CallbackOutcome::Updated);
    assert_eq!(r.outcome.as_str(), "updated");
}

// ----------------------------------------------------------------------------------- retry

/// RETRY-1: FAILED with a snapshot → IN_PROGRESS in place, same snapshot, attempt+1, error and
/// completed_at cleared, dispatch of the new attempt.
#[test]
fn retry_1_in_place_same_snapshot() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    w.clock.advance(Duration::seconds(30));
    let r = w.engine.retry_run(&w.triggerer, run.id).unwrap();
    assert_eq!(
        (r.execution_state, r.attempt),
        (ExecutionState::InProgress, 2)
    );
    assert_eq!(r.snapshot, run.snapshot);
    assert!(r.error.is_none() && r.completed_at.is_none());
    assert_eq!(
        r.started_at, run.started_at,
        "started_at is the first start"
    );
    assert_eq!(r.attempt_started_at, Some(w.engine.now()));
    assert_eq!(r.run_thread_id, run.run_thread_id);
    assert_eq!(
        w.dispatcher.dispatch_keys().last(),
        Some(&DispatchKey {
            run_id: run.id,
            attempt: 2
        })
    );
}

/// RETRY-2: drafts, COMPLETED, IN_PROGRESS and never-started FAILED runs → conflict.
#[test]
fn retry_2_other_states_conflict() {
    let w = world();
    for s in [
        Setup::Pending,
        Setup::NotStarted,
        Setup::InProgress,
        Setup::CompletedNotRequired,
        Setup::FailedNeverStarted,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.retry_run(&w.owner, run.id)),
            ErrorCode::Conflict,
            "{s:?}"
        );
    }
}

/// RETRY-3: triggerer or admin.
#[test]
fn retry_3_triggerer_or_admin() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    assert_eq!(
        code(w.engine.retry_run(&w.user_read_write, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.retry_run(&w.owner, run.id).is_ok());
}

// ----------------------------------------------------------------------------------- clone

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

// -------------------------------------------------------------------------------- approval

/// APPROVE-1: state must be approved; reason ≤ 2048.
#[test]
fn approve_1_state_and_reason() {
    let w = world();
    let run = w.run_in(Setup::CompletedApprovalPending);
    let bad = Approve {
        state: ApprovalState::Pending,
        reason: None,
    };
    assert_eq!(
        code(w.engine.approve_run(&w.owner, run.id, bad)),
        ErrorCode::UnprocessableEntity
    );
    let long = Approve {
        state: ApprovalState::Approved,
        reason: Some("r".repeat(2049)),
    };
    assert_eq!(
        code(w.engine.approve_run(&w.owner, run.id, long)),
        ErrorCode::UnprocessableEntity
    );
}

/// APPROVE-2: the run must be COMPLETED and require approval.
#[test]
fn approve_2_completed_and_required() {
    let w = world();
    for s in [
        Setup::InProgress,
        Setup::CompletedNotRequired,
        Setup::FailedAfterStart,
    ] {
        let run = w.run_in(s);
        assert_eq!(
            code(w.engine.approve_run(&w.owner, run.id, approve())),
            ErrorCode::Conflict,
            "{s:?}"
        );
    }
}

/// APPROVE-3: every output document, then the run; each approval recorded.
#[test]
fn approve_3_outputs_then_run() {
    let w = world();
    let run = w.running();
    let runner = w.triggerer.clone().assumed();
    let a = w.engine.add_output(&runner, run.id, "report.md").unwrap();
    let b = w.engine.add_output(&runner, run.id, "data.csv").unwrap();
    assert_eq!(a.approval_state, ApprovalState::Pending);
    w.engine
        .callback(&runner, run.id, cb(CallbackStatus::Completed, None))
        .unwrap();
    let approved = w
        .engine
        .approve_run(&w.user_read_write, run.id, approve())
        .unwrap();
    assert_eq!(approved.approval_state, ApprovalState::Approved);
    let rec = approved.approval.unwrap();
    assert_eq!(
        (rec.by, rec.reason.as_deref()),
        (w.user_read_write.user_id, Some("looks right"))
    );
    for doc in [a, b] {
        let d = w
            .engine
            .store()
            .path_part(w.tenant, doc.id)
            .unwrap()
            .unwrap();
        assert_eq!(d.approval_state, ApprovalState::Approved);
        assert_eq!(d.approval.unwrap().by, w.user_read_write.user_id);
    }
}

/// APPROVE-4: an approved run is returned unchanged.
#[test]
fn approve_4_idempotent() {
    let w = world();
    let run = w.run_in(Setup::CompletedApproved);
    assert_eq!(
        w.engine.approve_run(&w.admin, run.id, approve()).unwrap(),
        run
    );
}

/// APPROVE-5: write access to the run folder needed; assumed actors never approve.
#[test]
fn approve_5_write_access_not_assumed() {
    let w = world();
    let run = w.run_in(Setup::CompletedApprovalPending);
    assert_eq!(
        code(w.engine.approve_run(&w.triggerer, run.id, approve())),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .approve_run(&w.owner.clone().assumed(), run.id, approve())
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            w.engine
                .approve_run(&w.user_read_write.clone().assumed(), run.id, approve())
        ),
        ErrorCode::Forbidden
    );
    assert!(w
        .engine
        .approve_run(&w.user_read_write, run.id, approve())
        .is_ok());
}

// ---------------------------------------------------------------------------------- delete

/// DELETE-1: IN_PROGRESS runs cannot be deleted.
#[test]
fn delete_1_running_conflicts() {
    let w = world();
    let run = w.running();
    assert_eq!(
        code(w.engine.delete_run(&w.owner, run.id)),
        ErrorCode::Conflict
    );
}

/// DELETE-2: triggerer or admin.
#[test]
fn delete_2_triggerer_or_admin() {
    let w = world();
    let run = w.draft();
    assert_eq!(
        code(w.engine.delete_run(&w.user_read_write, run.id)),
        ErrorCode::Forbidden
    );
    assert!(w.engine.delete_run(&w.triggerer, run.id).is_ok());
}

/// DELETE-3: the run and its folder go; Get is not_found; history records the deletion.
#[test]
fn delete_3_gone_with_history() {
    let w = world();
    let run = w.run_in(Setup::FailedAfterStart);
    w.engine.delete_run(&w.owner, run.id).unwrap();
    assert_eq!(
        code(w.engine.get_run(&w.owner, run.id)),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(w.engine.delete_run(&w.owner, run.id)),
        ErrorCode::NotFound
    );
    assert!(w
        .engine
        .store()
        .path_part(w.tenant, run.id.into())
        .unwrap()
        .is_none());
    let last = w.history(run.id).pop().unwrap();
    assert_eq!(
        (last.event, last.from, last.to),
        (Event::Deleted, Some(ExecutionState::Failed), None)
    );
}

// ------------------------------------------------------------------------------------ sync

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

// ------------------------------------------------------------------------------------ reap

/// REAP-1: past max duration + grace, an IN_PROGRESS run fails "Timed out", a cancel is queued,
/// and it can be retried.
#[test]
fn reap_1_times_out_and_retries() {
    let w = world();
    let run = w.running();
    w.clock.advance(Duration::seconds(600));
    assert!(
        w.engine.reap_expired().unwrap().is_empty(),
        "grace not yet over"
    );
    w.clock.advance(Duration::seconds(61));
    assert_eq!(w.engine.reap_expired().unwrap(), vec![run.id]);
    let r = w.engine.get_run(&w.owner, run.id).unwrap();
    assert_eq!(
        (r.execution_state, r.error.as_deref()),
        (ExecutionState::Failed, Some("Timed out"))
    );
    assert_eq!(
        w.dispatcher.cancel_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
    let retried = w.engine.retry_run(&w.triggerer, run.id).unwrap();
    assert_eq!(retried.attempt, 2);
    assert!(retried.deadline_at.unwrap() > w.engine.now());
}

/// REAP-2: reaping is idempotent and loses to a terminal write that came first.
#[test]
fn reap_2_idempotent() {
    let w = world();
    let a = w.running();
    let b = w.running();
    w.clock.advance(Duration::hours(1));
    w.engine
        .callback(&w.triggerer, b.id, cb(CallbackStatus::Completed, None))
        .unwrap();
    assert_eq!(w.engine.reap_expired().unwrap(), vec![a.id]);
    assert!(w.engine.reap_expired().unwrap().is_empty());
    assert_eq!(w.history(a.id).len(), 3);
    assert_eq!(
        w.engine.get_run(&w.owner, b.id).unwrap().execution_state,
        ExecutionState::Completed
    );
}

/// LIST-1: filters, order, pagination and visibility (the conformance suite covers each in
/// depth; this checks the engine's wiring end to end).
#[test]
fn list_1_listing() {
    let w = world();
    let a = w.draft();
    w.clock.advance(Duration::seconds(1));
    let b = w.running();
    let page = w
        .engine
        .list_runs(
            &w.user_read,
            ListRuns {
                limit: 1,
                ..ListRuns::default()
            },
        )
        .unwrap();
    assert_eq!((page.total, page.items[0].id), (2, b.id));
    let started = ListRuns {
        execution_state: Some(ExecutionState::NotStarted),
        definition_id: Some(w.def.id),
        ..ListRuns::default()
    };
    assert_eq!(
        w.engine.list_runs(&w.triggerer, started).unwrap().items[0].id,
        a.id
    );
    assert_eq!(
        w.engine
            .list_runs(&w.user_no_grant, ListRuns::default())
            .unwrap()
            .total,
        0
    );
}

// -------------------------------------------------------------------------------- snapshot

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

// ------------------------------------------------------------------------ concurrency etc.

/// CONC-4: a committed transition is in the store the moment the call returns (the memory
/// store's durability is the process; the SQLite crate proves crash survival with a kill test).
#[test]
fn conc_4_committed_is_visible_immediately() {
    let w = world();
    let run = w.running();
    let stored = w
        .engine
        .store()
        .load_run(w.tenant, run.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored, run);
}

/// CONC-5: the transition and its dispatch are committed together; every queued dispatch is
/// delivered at least once with its key (run id + attempt).
#[test]
fn conc_5_outbox_with_transition() {
    let w = world();
    w.dispatcher.set_failing(true);
    let run = w.running();
    let q = w.engine.store().outbox_for_run(w.tenant, run.id).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(w.history(run.id).last().unwrap().event, Event::Started);
    w.dispatcher.set_failing(false);
    w.engine.relay_outbox().unwrap();
    w.engine.relay_outbox().unwrap();
    assert_eq!(
        w.dispatcher.dispatch_keys(),
        vec![DispatchKey {
            run_id: run.id,
            attempt: 1
        }]
    );
}

/// AUDIT-1: every committed transition appends one record: run, seq, from, to, actor, time,
/// reason.
#[test]
fn audit_1_history_records() {
    let w = world();
    let run = w.running();
    w.clock.advance(Duration::seconds(5));
    w.engine.stop_run(&w.admin, run.id).unwrap();
    let h = w.history(run.id);
    assert_eq!(h.len(), 3);
    let stop = &h[2];
    assert_eq!(
        (stop.seq, stop.from, stop.to),
        (
            3,
            Some(ExecutionState::InProgress),
            Some(ExecutionState::Failed)
        )
    );
    assert_eq!(stop.actor.user_id, Some(w.admin.user_id));
    assert_eq!(stop.at, w.engine.now());
    assert_eq!(stop.reason.as_deref(), Some("Stopped by user"));
    w.assert_history_gapless(run.id);
    // Idempotent replays append nothing.
    w.engine.stop_run(&w.admin, run.id).unwrap();
    assert_eq!(w.history(run.id).len(), 3);
}

/// ERR-1: malformed input never panics: odd names, huge scopes, unknown ids, wrong kinds.
#[test]
fn err_1_malformed_input_never_panics() {
    let w = world();
    let run = w.draft();
    let weird = [
        "",
        "\0",
        "a/b",
        "..",
        "\u{202e}",
        &"é".repeat(300),
        "\u{1F600}",
    ];
    for n in weird {
        let _ = w.engine.update_run(&w.owner, run.id, rename(n));
        let _ = w.engine.create_run(
            &w.owner,
            w.def.id,
            CreateRun {
                name: Some(n.into()),
                ..CreateRun::default()
            },
        );
        let _ = w.engine.add_upload(
            &w.owner,
            run.id,
            NewUpload {
                name: n.into(),
                ingestion: Ingestion::Completed,
            },
        );
    }
    let _ = w
        .engine
        .set_upload_ingestion(w.tenant, w.doc_v1.id, Ingestion::Failed);
    let _ = w.engine.set_upload_ingestion(
        w.other_tenant,
        PathPartId(uuid::Uuid::nil()),
        Ingestion::Failed,
    );
    let _ = w.engine.list_runs(
        &w.owner,
        ListRuns {
            offset: u64::MAX,
            ..ListRuns::default()
        },
    );
    let _ = w.engine.callback(
        &w.owner,
        run.id,
        Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(u32::MAX),
        },
    );
    assert!(w.engine.get_run(&w.owner, run.id).is_ok());
}

/// ERR-2: a refused operation writes nothing (the table test checks all 704 cases; this checks
/// refusals that happen late, after facts were gathered).
#[test]
fn err_2_refusals_write_nothing() {
    let w = world();
    let run = w
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
    u.grants.clear();
    u.grants.push(Grant {
        path: "/shared/eng/summarise".into(),
        capability: Capability::Read,
    });
    w.engine.put_user(u).unwrap();
    let before_outbox = w.engine.store().outbox_pending(100).unwrap();
    assert!(w
        .engine
        .start_run(&w.triggerer, run.id, StartRun::default())
        .is_err());
    assert_eq!(w.engine.get_run(&w.owner, run.id).unwrap(), run);
    assert_eq!(w.history(run.id).len(), 1);
    assert_eq!(w.engine.store().outbox_pending(100).unwrap(), before_outbox);
}

/// Wire names: every enum converts to and from its SPEC wire string in one place, through serde
/// and `as_str`/`FromStr` alike.
#[test]
fn wire_names_round_trip() {
    fn check<T>(all: &[T])
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::str::FromStr
            + std::fmt::Display,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in all {
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{v}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
    }
    check(ExecutionState::ALL);
    check(ApprovalState::ALL);
    check(Role::ALL);
    check(Capability::ALL);
    check(PathPartKind::ALL);
    check(Ingestion::ALL);
    check(InputOrigin::ALL);
    check(ExclusionReason::ALL);
    check(CallbackStatus::ALL);
    check(CallbackOutcome::ALL);
    check(RunOrder::ALL);
    check(ErrorCode::ALL);
    let names: Vec<&str> = ExecutionState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "PENDING",
            "NOT_STARTED",
            "IN_PROGRESS",
            "COMPLETED",
            "FAILED"
        ]
    );
    let names: Vec<&str> = ApprovalState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["not_required", "pending", "approved"]);
    let statuses: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.http_status()).collect();
    assert_eq!(statuses, [400, 401, 403, 404, 409, 409, 413, 422, 503, 500]);
    assert_eq!(
        "nope".parse::<ExecutionState>().unwrap_err().code(),
        ErrorCode::UnprocessableEntity
    );
    // A run round-trips through JSON exactly (adapters store it that way).
    let w = world();
    let run = w.run_in(Setup::CompletedApproved);
    let back: Run = serde_json::from_str(&serde_json::to_string(&run).unwrap()).unwrap();
    assert_eq!(back, run);
}

/// VIS-1 across tenants: every operation by another tenant's OWNER on this tenant's runs and
/// definitions is `not_found`, and changes nothing.
#[test]
fn vis_1_cross_tenant_everything_is_not_found() {
    let w = world();
    let o = &w.other_owner;
    let e = &w.engine;
    let run = w.run_in(Setup::CompletedApprovalPending);
    let failed = w.run_in(Setup::FailedAfterStart);
    let nf = ErrorCode::NotFound;
    assert_eq!(code(e.get_run(o, run.id)), nf);
    assert_eq!(code(e.update_run(o, run.id, rename("x"))), nf);
    assert_eq!(code(e.start_run(o, run.id, StartRun::default())), nf);
    assert_eq!(code(e.stop_run(o, run.id)), nf);
    assert_eq!(
        code(e.callback(o, run.id, cb(CallbackStatus::Completed, None))),
        nf
    );
    assert_eq!(code(e.retry_run(o, failed.id)), nf);
    assert_eq!(code(e.clone_run(o, run.id, CloneRun::default())), nf);
    assert_eq!(code(e.approve_run(o, run.id, approve())), nf);
    assert_eq!(code(e.delete_run(o, run.id)), nf);
    assert_eq!(code(e.check_thread_message(o, run.id)), nf);
    assert_eq!(code(e.add_output(o, run.id, "x")), nf);
    let up = NewUpload {
        name: "x".into(),
        ingestion: Ingestion::Completed,
    };
    assert_eq!(code(e.add_upload(o, run.id, up)), nf);
    assert_eq!(code(e.create_run(o, w.def.id, CreateRun::default())), nf);
    assert_eq!(code(e.get_definition(o, w.def.id)), nf);
    let by_def = ListRuns {
        definition_id: Some(w.def.id),
        ..ListRuns::default()
    };
    assert_eq!(code(e.list_runs(o, by_def)), nf);
    assert_eq!(e.list_runs(o, ListRuns::default()).unwrap().total, 0);
    assert_eq!(
        code(e.set_upload_ingestion(w.other_tenant, w.doc_v1.id, Ingestion::Failed)),
        nf
    );
    assert_eq!(e.get_run(&w.owner, run.id).unwrap(), run);
    assert_eq!(e.get_run(&w.owner, failed.id).unwrap(), failed);
}
