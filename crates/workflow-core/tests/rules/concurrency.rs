use super::*;

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
    w.clock.advance(chrono::Duration::seconds(2)); // past the failed try's backoff (DISP-4)
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

/// ERR-1: malformed input never panics, and each call answers what the rules say: odd names
/// (empty, control characters, '/', too long) are `unprocessable_entity`, legal odd names are
/// accepted, unknown ids are `not_found`, an offset past the end is an empty page, and a
/// callback with an absurd attempt on a draft is `conflict` (CB-5 before CB-4).
#[test]
fn err_1_malformed_input_answers_typed_errors() {
    let w = world();
    let run = w.draft();
    let long = "é".repeat(300);
    // (name, legal under CREATE-4)
    let names: [(&str, bool); 7] = [
        ("", false),
        ("\0", false),
        ("a/b", false),
        ("..", true),
        ("\u{202e}", true),
        (&long, false),
        ("\u{1F600}", true),
    ];
    for (n, legal) in names {
        let updated = w.engine.update_run(&w.owner, run.id, rename(n));
        let created = w.engine.create_run(
            &w.owner,
            w.def.id,
            CreateRun {
                name: Some(n.into()),
                ..CreateRun::default()
            },
        );
        let uploaded = w.engine.add_upload(
            &w.owner,
            run.id,
            NewUpload {
                name: n.into(),
                ingestion: Ingestion::Completed,
            },
        );
        if legal {
            assert_eq!(updated.unwrap().name, n, "{n:?}");
            // The draft carries that name now: a second run of it collides (CREATE-4).
            assert_eq!(code(created), ErrorCode::Conflict, "{n:?}");
            assert_eq!(uploaded.unwrap().1.name, n, "{n:?}");
        } else {
            assert_eq!(code(updated), ErrorCode::UnprocessableEntity, "{n:?}");
            assert_eq!(code(created), ErrorCode::UnprocessableEntity, "{n:?}");
            assert_eq!(code(uploaded), ErrorCode::UnprocessableEntity, "{n:?}");
        }
    }
    // A knowledge-base version is no run upload; an unknown id in another tenant is unknown.
    let kb = w
        .engine
        .set_upload_ingestion(w.tenant, w.doc_v1.id, Ingestion::Failed);
    assert_eq!(code(kb), ErrorCode::NotFound);
    let nil = w.engine.set_upload_ingestion(
        w.other_tenant,
        PathPartId(uuid::Uuid::nil()),
        Ingestion::Failed,
    );
    assert_eq!(code(nil), ErrorCode::NotFound);
    let page = w
        .engine
        .list_runs(
            &w.owner,
            ListRuns {
                offset: u64::MAX,
                ..ListRuns::default()
            },
        )
        .unwrap();
    assert!(page.items.is_empty());
    assert!(page.total >= 1, "the total still counts every run");
    let cb = w.engine.callback(
        &w.owner,
        run.id,
        Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(u32::MAX),
        },
    );
    assert_eq!(code(cb), ErrorCode::Conflict);
    let after = w.engine.get_run(&w.owner, run.id).unwrap();
    assert_eq!(after.execution_state, ExecutionState::NotStarted);
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
    assert_eq!(
        statuses,
        [400, 401, 403, 404, 409, 409, 413, 422, 503, 500, 501]
    );
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
