//! The reference-model checks on the SQLite store (each history and each sequence on a fresh
//! database file, `synchronous=NORMAL` to keep fsyncs out of the test's time):
//!
//! * CONC-1, CONC-2, CONC-3: `LIN_HISTORIES_SQLITE` (default 1000) concurrent histories of 4
//!   threads × 5 operations on one run, each checked against the sequential model by
//!   `workflow_conformance::linearizability`, including the final row, history records and
//!   outbox against the serial order found; at least a quarter of the histories must overlap.
//! * Every rule the model encodes (see `model_proptest.rs` in workflow-core): `SQLITE_CASES`
//!   (default 64) random operation sequences compared step by step with the model by
//!   `model::check_sequence` (answers, AUDIT-1, ERR-2, SNAP-7, CONC-5, idempotent replays).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use workflow_conformance::linearizability::{check_store, yielding, Config};
use workflow_conformance::model::{
    check_sequence, ActorKind, DefKind, NameChoice, Op, ScopeItem, UNKNOWN_RUN,
};
use workflow_core::{CallbackStatus, Ingestion};
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

fn fresh_store(dir: &tempfile::TempDir, n: &mut u32) -> SqliteStore {
    *n += 1;
    let options = SqliteOptions {
        durability: Durability::Normal,
        ..SqliteOptions::default()
    };
    SqliteStore::open_with(dir.path().join(format!("h{n}.sqlite")), options).unwrap()
}

/// CONC-1, CONC-2, CONC-3: concurrent histories on SQLite are linearizable.
#[test]
fn conc_1_sqlite_store_histories_are_linearizable() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    let config = Config::from_env("LIN_HISTORIES_SQLITE");
    match check_store(|| yielding(fresh_store(&dir, &mut n)), &config) {
        Ok(report) => {
            eprintln!(
                "linearizability (sqlite store): {report:?}; calls overlapped in {:.1}% of \
                 the histories",
                100.0 * report.overlap_share()
            );
            assert_eq!(report.histories, config.histories);
            assert_eq!(
                report.calls,
                config.histories * config.threads * config.ops_per_thread
            );
            // The histories must really be concurrent, or linearizability holds trivially.
            assert!(
                report.overlap_share() >= 0.25,
                "calls overlapped in only {} of {} histories",
                report.overlapping_histories,
                report.histories
            );
        }
        Err(v) => panic!("{v}"),
    }
}

fn op() -> impl Strategy<Value = Op> {
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

fn actor() -> impl Strategy<Value = ActorKind> {
    prop_oneof![
        3 => Just(ActorKind::Triggerer),
        1 => Just(ActorKind::TriggererAssumed),
        1 => Just(ActorKind::Owner),
        1 => Just(ActorKind::UserRead),
        1 => Just(ActorKind::UserReadWrite),
        1 => Just(ActorKind::OtherTenantOwner),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: u32::try_from(workflow_conformance::env_count("SQLITE_CASES", 64)).unwrap_or(u32::MAX),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// CONC-1, AUDIT-1, ERR-2, SNAP-7, CONC-5, START-2, STOP-2, CB-3, CB-4, APPROVE-4, CREATE-6
    /// and the rules of SPEC section 3: the engine on SQLite agrees with the model step by step.
    #[test]
    fn sqlite_engine_matches_model(steps in prop::collection::vec((op(), actor()), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        let mut all = vec![(
            Op::Create {
                def: DefKind::Approval,
                name: NameChoice::Default,
                uploads: vec![],
                auto_start: false,
                idempotency_key: None,
                scope: vec![],
            },
            ActorKind::Triggerer,
        )];
        all.extend(steps);
        if let Err(e) = check_sequence(fresh_store(&dir, &mut n), &all) {
            prop_assert!(false, "{}", e);
        }
    }
}
