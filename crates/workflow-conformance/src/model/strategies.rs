//! Proptest strategies for the model-sequence tests: random [`Op`]s by random [`ActorKind`]s,
//! compared step by step with the model by [`check_sequence`](super::check_sequence). Shared
//! by every store's model-sequence test (SQLite, PostgreSQL), so they all draw the same
//! sequences.

use super::{ActorKind, DefKind, NameChoice, Op, ScopeItem, UNKNOWN_RUN};
use proptest::prelude::*;
use workflow_core::{CallbackStatus, Ingestion};

/// One random operation: a create (either definition, default or pooled name, up to one
/// upload, with or without auto-start and idempotency key), or a start, stop, callback, retry,
/// clone, approve, delete, update, ingestion change or thread message on a model run (or the
/// unknown one, [`UNKNOWN_RUN`]), a clock advance past or short of the attempt deadline, a reap
/// or a list.
pub fn op() -> impl Strategy<Value = Op> {
    let run = 0..=UNKNOWN_RUN;
    let ingestion = prop_oneof![
        Just(Ingestion::Processing),
        Just(Ingestion::Completed),
        Just(Ingestion::Failed)
    ];
    prop_oneof![
        (
            prop_oneof![Just(DefKind::Approval), Just(DefKind::Plain)],
            prop_oneof![
                Just(NameChoice::Default),
                (0u8..2).prop_map(NameChoice::Pool)
            ],
            prop::collection::vec(ingestion.clone(), 0..2),
            any::<bool>(),
            prop::option::of(0u8..2),
        )
            .prop_map(
                |(def, name, uploads, auto_start, idempotency_key)| Op::Create {
                    def,
                    name,
                    uploads,
                    auto_start,
                    idempotency_key,
                    scope: vec![ScopeItem::Crm, ScopeItem::Doc],
                }
            ),
        run.clone().prop_map(|run| Op::Start { run }),
        run.clone().prop_map(|run| Op::Stop { run }),
        (
            run.clone(),
            prop_oneof![
                Just(CallbackStatus::Completed),
                Just(CallbackStatus::Failed)
            ],
            prop::option::of(0u32..3)
        )
            .prop_map(|(run, status, attempt)| Op::Callback {
                run,
                status,
                attempt,
                error_too_long: false,
            }),
        run.clone().prop_map(|run| Op::Retry { run }),
        run.clone().prop_map(|run| Op::Clone {
            run,
            include_inputs: true
        }),
        run.clone().prop_map(|run| Op::Approve {
            run,
            approved: true
        }),
        run.clone().prop_map(|run| Op::Delete { run }),
        (
            run.clone(),
            prop_oneof![Just(NameChoice::Pool(0)), Just(NameChoice::Fresh)]
        )
            .prop_map(|(run, name)| Op::Update {
                run,
                name: Some(name),
                scope: Some(vec![ScopeItem::Eng, ScopeItem::Secret]),
            }),
        (run.clone(), 0usize..2, ingestion).prop_map(|(run, upload, status)| Op::SetIngestion {
            run,
            upload,
            status
        }),
        run.prop_map(|run| Op::ThreadMessage { run }),
        prop_oneof![Just(330u32), Just(661)].prop_map(|seconds| Op::AdvanceClock { seconds }),
        Just(Op::Reap),
        Just(Op::List),
    ]
}

/// One random actor, the triggerer three times as likely as each other kind.
pub fn actor() -> impl Strategy<Value = ActorKind> {
    prop_oneof![
        3 => Just(ActorKind::Triggerer),
        1 => Just(ActorKind::TriggererAssumed),
        1 => Just(ActorKind::Owner),
        1 => Just(ActorKind::UserRead),
        1 => Just(ActorKind::UserReadWrite),
        1 => Just(ActorKind::OtherTenantOwner),
    ]
}

/// The first step of every sequence: the triggerer creates a run of the approval definition
/// (default name, no uploads, no auto-start, no key, empty scope), so the random steps have a
/// run to act on.
pub fn leading_create() -> (Op, ActorKind) {
    (
        Op::Create {
            def: DefKind::Approval,
            name: NameChoice::Default,
            uploads: vec![],
            auto_start: false,
            idempotency_key: None,
            scope: vec![],
        },
        ActorKind::Triggerer,
    )
}

/// A whole step list for [`check_sequence`](super::check_sequence): [`leading_create`]
/// followed by 1 to 29 random ([`op`], [`actor`]) steps.
pub fn sequence() -> impl Strategy<Value = Vec<(Op, ActorKind)>> {
    prop::collection::vec((op(), actor()), 1..30).prop_map(|steps| {
        let mut all = Vec::with_capacity(steps.len() + 1);
        all.push(leading_create());
        all.extend(steps);
        all
    })
}

/// Runs `test` on `cases` step lists drawn from [`sequence`], on a runner of its own, and panics
/// with the (shrunk) failing case. Not the `proptest!` macro: that one lets `PROPTEST_CASES`
/// override an explicit case count (`scripts/test.sh` sets it to 2000 for the cheap in-memory
/// properties), and a store that needs a fresh database per case keeps its own count
/// (`PG_CASES`, `SQLITE_CASES`).
pub fn for_sequences(cases: u32, test: impl Fn(&[(Op, ActorKind)]) -> Result<(), String>) {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    assert!(cases > 0, "0 cases would test nothing");
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&sequence(), |steps| {
        test(&steps).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
