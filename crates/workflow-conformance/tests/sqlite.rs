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

use workflow_conformance::linearizability::{check_store, yielding, Config};
use workflow_conformance::model::check_sequence;
use workflow_conformance::model::strategies::for_sequences;
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

/// CONC-1, AUDIT-1, ERR-2, SNAP-7, CONC-5, START-2, STOP-2, CB-3, CB-4, APPROVE-4, CREATE-6
/// and the rules of SPEC section 3: the engine on SQLite agrees with the model step by step.
#[test]
fn sqlite_engine_matches_model() {
    let cases =
        u32::try_from(workflow_conformance::env_count("SQLITE_CASES", 64)).unwrap_or(u32::MAX);
    for_sequences(cases, |steps| {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        check_sequence(fresh_store(&dir, &mut n), steps)
    });
}
