//! Property test: random sequences of every operation by random actors, run on the engine over
//! the memory store and on the reference model (`workflow_conformance::model`), compared after
//! every step.
//!
//! Operations: create (with uploads, auto-start, pool names, idempotency keys), get, update,
//! start, stop, callback COMPLETED/FAILED with no attempt, the current one or a stale/future
//! one, retry, clone, approve, delete, add upload, ingestion status changes, output documents
//! written by the runner, the thread gate,
//! clock jumps (landing on and around attempt deadlines), reaper sweeps and listing.
//!
//! After every step:
//! * the engine's answer equals the model's (every rule of SPEC section 3: VIS-1, VIS-2,
//!   CREATE-1, CREATE-3, CREATE-4, CREATE-6, UPDATE-1..4, START-1..5, STOP-1, STOP-2, STOP-4,
//!   CB-1..7, RETRY-1..3, CLONE-1, CLONE-3, CLONE-4, APPROVE-1, APPROVE-2, APPROVE-4,
//!   APPROVE-5, DELETE-1..3, SYNC-1..4, THREAD-1, REAP-1, LIST-1);
//! * each run's history length equals the model's count of committed transitions (AUDIT-1);
//! * terminal states stay terminal: COMPLETED forever, FAILED left only by retry (section 2);
//! * versions only grow; history has no gaps (seq 1..=version, chained from/to) (AUDIT-1, CONC-1);
//! * a refused command changes nothing: rows, history, outbox, folders (ERR-2);
//! * a snapshot never changes (SNAP-7); an IN_PROGRESS run has its dispatch queued (CONC-5);
//!   one dispatch per attempt (CONC-3), one cancel per stop or time-out (STOP-1, REAP-1);
//!   an approved run's outputs are approved (APPROVE-3);
//! * a call that wrote nothing (START-2 start on IN_PROGRESS, STOP-2 stop on a terminal run,
//!   CB-3 callback on a terminal run, CB-4 stale callback, APPROVE-4 approve on approved,
//!   CREATE-6 create with the same idempotency key, reads) gives the same answer, the same
//!   run, and writes nothing when replayed.
//!
//! Cases: `PROPTEST_CASES` (default 256, a few seconds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use workflow_conformance::model::{
    check_sequence, ActorKind, DefKind, NameChoice, Op, ScopeItem, UNKNOWN_RUN,
};
use workflow_core::{CallbackStatus, Ingestion};
use workflow_store_memory::MemoryStore;

/// Generated run indices are resolved against the runs that exist at that step
/// (`model::resolve`): `UNKNOWN_RUN` stands for an id nobody knows, anything else picks an
/// existing run (deleted ones included).
const RUNS: usize = UNKNOWN_RUN + 1;

fn actor() -> impl Strategy<Value = ActorKind> {
    prop_oneof![
        3 => Just(ActorKind::Triggerer),
        2 => Just(ActorKind::TriggererAssumed),
        2 => Just(ActorKind::Owner),
        1 => Just(ActorKind::Admin),
        1 => Just(ActorKind::UserRead),
        1 => Just(ActorKind::UserReadWrite),
        1 => Just(ActorKind::UserNoGrant),
        1 => Just(ActorKind::OtherTenantOwner),
        2 => Just(ActorKind::Triggerer),
    ]
}

fn ingestion() -> impl Strategy<Value = Ingestion> {
    prop_oneof![
        1 => Just(Ingestion::Pending),
        1 => Just(Ingestion::Processing),
        2 => Just(Ingestion::Completed),
        1 => Just(Ingestion::Failed),
    ]
}

fn name() -> impl Strategy<Value = NameChoice> {
    prop_oneof![
        3 => Just(NameChoice::Default),
        3 => (0u8..3).prop_map(NameChoice::Pool),
        1 => Just(NameChoice::Fresh),
        1 => Just(NameChoice::Invalid),
    ]
}

/// An input scope: mostly empty, else a few references of every kind (readable or not,
/// unknown, of a wrong kind, another run's uploads).
fn scope() -> impl Strategy<Value = Vec<ScopeItem>> {
    let item = prop_oneof![
        Just(ScopeItem::Doc),
        Just(ScopeItem::DocV1),
        Just(ScopeItem::Crm),
        Just(ScopeItem::Eng),
        Just(ScopeItem::Secret),
        Just(ScopeItem::SecretV1),
        Just(ScopeItem::Definition),
        Just(ScopeItem::Unknown),
        (0usize..4).prop_map(ScopeItem::Upload),
    ];
    prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(item, 1..4),
    ]
}

fn create() -> impl Strategy<Value = Op> {
    (
        prop_oneof![3 => Just(DefKind::Approval), 1 => Just(DefKind::Plain)],
        name(),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(ingestion(), 1..3),
        ],
        any::<bool>(),
        prop::option::weighted(0.4, 0u8..2),
        scope(),
    )
        .prop_map(
            |(def, name, uploads, auto_start, idempotency_key, scope)| Op::Create {
                def,
                name,
                uploads,
                auto_start,
                idempotency_key,
                scope,
            },
        )
}

/// A sequence: one to three creates by the triggerer, then any operations by any actors.
fn sequence() -> impl Strategy<Value = Vec<(Op, ActorKind)>> {
    (
        prop::collection::vec(create(), 1..4),
        prop::collection::vec((op(), actor()), 1..40),
    )
        .prop_map(|(creates, mut steps)| {
            let mut all: Vec<(Op, ActorKind)> = creates
                .into_iter()
                .map(|c| (c, ActorKind::Triggerer))
                .collect();
            all.append(&mut steps);
            all
        })
}

/// Every operation of the model, weighted towards the lifecycle ones.
fn op() -> impl Strategy<Value = Op> {
    let run = 0..RUNS;
    prop_oneof![
        3 => create(),
        1 => run.clone().prop_map(|run| Op::Get { run }),
        2 => (
            run.clone(),
            prop::option::weighted(0.8, name()),
            prop::option::weighted(0.4, scope()),
        )
            .prop_map(|(run, name, scope)| Op::Update { run, name, scope }),
        4 => run.clone().prop_map(|run| Op::Start { run }),
        2 => run.clone().prop_map(|run| Op::Stop { run }),
        4 => (
            run.clone(),
            prop_oneof![Just(CallbackStatus::Completed), Just(CallbackStatus::Failed)],
            prop::option::weighted(0.5, 0u32..4),
            prop::bool::weighted(0.05),
        )
            .prop_map(|(run, status, attempt, error_too_long)| Op::Callback {
                run,
                status,
                attempt,
                error_too_long,
            }),
        2 => run.clone().prop_map(|run| Op::Retry { run }),
        1 => (run.clone(), any::<bool>())
            .prop_map(|(run, include_inputs)| Op::Clone { run, include_inputs }),
        2 => (run.clone(), prop::bool::weighted(0.9))
            .prop_map(|(run, approved)| Op::Approve { run, approved }),
        1 => run.clone().prop_map(|run| Op::Delete { run }),
        1 => (run.clone(), ingestion()).prop_map(|(run, ingestion)| Op::AddUpload { run, ingestion }),
        3 => (run.clone(), 0usize..3, ingestion())
            .prop_map(|(run, upload, status)| Op::SetIngestion { run, upload, status }),
        1 => run.clone().prop_map(|run| Op::ThreadMessage { run }),
        2 => run.clone().prop_map(|run| Op::AddOutput { run }),
        2 => prop_oneof![Just(1u32), Just(59), Just(60), Just(330), Just(600), Just(659), Just(660), Just(661), Just(5000)]
            .prop_map(|seconds| Op::AdvanceClock { seconds }),
        2 => Just(Op::Reap),
        1 => Just(Op::List),
    ]
}

fn run_sequence(steps: &[(Op, ActorKind)]) -> Result<(), String> {
    check_sequence(MemoryStore::new(), steps)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES, read by us so that 0 or garbage fails instead of passing vacuously.
        cases: u32::try_from(workflow_conformance::env_count("PROPTEST_CASES", 256)).unwrap(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// CONC-1, AUDIT-1, ERR-2, STOP-2, CB-3, CB-4, START-2, CREATE-6, APPROVE-4, SNAP-7,
    /// CONC-5 and every rule the model encodes: engine and model agree on random sequences.
    #[test]
    fn engine_matches_model_on_random_sequences(
        steps in sequence()
    ) {
        if let Err(e) = run_sequence(&steps) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// REAP-1: a clock that lands exactly on the deadline does not reap (the attempt started exactly
/// duration + grace ago, not more); one second later it does, and the run can be retried.
#[test]
fn reap_1_deadline_boundary() {
    let t = ActorKind::Triggerer;
    let create = Op::Create {
        def: DefKind::Approval,
        name: NameChoice::Default,
        uploads: vec![],
        auto_start: false,
        idempotency_key: None,
        scope: vec![],
    };
    let steps = vec![
        (create, t),
        (Op::Start { run: 0 }, t),
        (Op::AdvanceClock { seconds: 660 }, t),
        (Op::Reap, t),
        (Op::AdvanceClock { seconds: 1 }, t),
        (Op::Reap, t),
        (Op::Retry { run: 0 }, t),
    ];
    run_sequence(&steps).unwrap();
}

/// CB-4, CB-3: a stale callback of attempt 1 after a retry does not finish attempt 2, and a
/// late duplicate of the winning callback answers already_terminal.
#[test]
fn cb_4_stale_attempt_after_retry() {
    let t = ActorKind::TriggererAssumed;
    let cb = |status, attempt| Op::Callback {
        run: 0,
        status,
        attempt,
        error_too_long: false,
    };
    let steps = vec![
        (
            Op::Create {
                def: DefKind::Approval,
                name: NameChoice::Pool(0),
                uploads: vec![],
                auto_start: false,
                idempotency_key: Some(0),
                scope: vec![],
            },
            ActorKind::Triggerer,
        ),
        (Op::Start { run: 0 }, t),
        (cb(CallbackStatus::Failed, Some(1)), t),
        (Op::Retry { run: 0 }, t),
        (cb(CallbackStatus::Completed, Some(1)), t),
        (cb(CallbackStatus::Completed, Some(2)), t),
        (cb(CallbackStatus::Failed, Some(2)), t),
        (cb(CallbackStatus::Failed, None), t),
    ];
    run_sequence(&steps).unwrap();
}

/// SYNC-1, SYNC-2, SYNC-3: uploads settle into NOT_STARTED, auto-start, or FAILED.
#[test]
fn sync_auto_start_and_failed_upload() {
    let t = ActorKind::Triggerer;
    let create = |auto_start| Op::Create {
        def: DefKind::Approval,
        name: NameChoice::Default,
        uploads: vec![Ingestion::Processing, Ingestion::Completed],
        auto_start,
        idempotency_key: None,
        scope: vec![],
    };
    let set = |run, status| Op::SetIngestion {
        run,
        upload: 0,
        status,
    };
    let steps = vec![
        (create(true), t),
        (set(0, Ingestion::Completed), t),
        (create(true), t),
        (set(1, Ingestion::Failed), t),
        (create(false), t),
        (
            Op::AddUpload {
                run: 2,
                ingestion: Ingestion::Pending,
            },
            t,
        ),
        (set(2, Ingestion::Completed), t),
        (Op::Start { run: 2 }, t),
    ];
    run_sequence(&steps).unwrap();
}

/// VIS-1: a malformed body (ERR-2 refused, `unprocessable_entity`) gets the same answer whether
/// the run exists but is hidden from the actor or does not exist at all, so a bad body never
/// reveals a run's existence. Start, callback and approve used to look the run up first.
#[test]
fn vis_1_bad_body_answers_alike_for_hidden_and_unknown_runs() {
    use workflow_conformance::world::World;
    use workflow_core::*;
    let w = World::new(MemoryStore::new());
    let hidden = w.running().id;
    let unknown = RunId(uuid::Uuid::from_u128(42));
    for actor in [&w.user_no_grant, &w.other_owner, &w.triggerer] {
        let code = |run| {
            let start = StartRun {
                user_message: Some("m".repeat(4001)),
            };
            let callback = Callback {
                status: CallbackStatus::Failed,
                error: Some("e".repeat(8193)),
                attempt: None,
            };
            let approve = Approve {
                state: ApprovalState::Pending,
                reason: None,
            };
            [
                w.engine.start_run(actor, run, start).map(|_| ()),
                w.engine.callback(actor, run, callback).map(|_| ()),
                w.engine.approve_run(actor, run, approve).map(|_| ()),
            ]
            .map(|r| r.map_err(|e| e.code()))
        };
        assert_eq!(code(hidden), code(unknown), "{actor:?}");
        assert_eq!(code(unknown), [Err(ErrorCode::UnprocessableEntity); 3]);
    }
}

/// CLONE-2, DELETE-3, START-8: a clone with inputs references the source's uploads by id; once
/// the source is deleted they no longer exist and the clone's Start is `conflict`. A scope
/// entry the starter cannot read (the owner put `/private/secret.md` into the triggerer's
/// draft) is `forbidden`; neither writes anything.
#[test]
fn start_8_vanished_and_unreadable_references() {
    let t = ActorKind::Triggerer;
    let create = |uploads| Op::Create {
        def: DefKind::Approval,
        name: NameChoice::Default,
        uploads,
        auto_start: false,
        idempotency_key: None,
        scope: vec![ScopeItem::Crm, ScopeItem::Doc],
    };
    let steps = vec![
        (create(vec![Ingestion::Completed]), t),
        (Op::Start { run: 0 }, t),
        (Op::Stop { run: 0 }, t),
        (
            Op::Clone {
                run: 0,
                include_inputs: true,
            },
            t,
        ),
        (Op::Delete { run: 0 }, t),
        (Op::Start { run: 1 }, t),
        (create(vec![]), t),
        (
            Op::Update {
                run: 2,
                name: None,
                scope: Some(vec![ScopeItem::Secret]),
            },
            ActorKind::Owner,
        ),
        (Op::Start { run: 2 }, t),
        (Op::Start { run: 2 }, ActorKind::Admin),
    ];
    run_sequence(&steps).unwrap();
}
