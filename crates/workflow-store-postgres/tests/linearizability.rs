//! CONC-1, CONC-2, CONC-3 on PostgreSQL: `LIN_HISTORIES` (default 1000) concurrent histories
//! of 4 threads × 5 operations on one run, each checked against the sequential reference model
//! by `workflow_conformance::linearizability`: the answers must be explained by one serial
//! order, and the store's final row, history records and outbox must be where that order leads.
//! At least a quarter of the histories must really overlap.
//!
//! The histories share one database (creating one per history would dominate the time): before
//! each, every table is emptied, so each history starts from a fresh world with the World's
//! fixed ids.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use workflow_conformance::linearizability::{check_store, yielding, Config};
use workflow_store_postgres::PgStore;

const EMPTY: &str = "DELETE FROM outbox; DELETE FROM history; DELETE FROM runs;
    DELETE FROM run_ids; DELETE FROM versions; DELETE FROM path_parts; DELETE FROM definitions;
    DELETE FROM grants; DELETE FROM users; DELETE FROM tenants;";

/// CONC-1, CONC-2, CONC-3: every recorded history of racing start, stop, callback, retry, get,
/// thread gate, approve and reap calls on PostgreSQL equals some serial order of them.
#[test]
fn conc_1_postgres_store_histories_are_linearizable() {
    let Some(db) = common::TempDb::new() else {
        return;
    };
    let store = Arc::new(PgStore::connect(&db.url).unwrap());
    let mut admin = db.client();
    let config = Config::from_env("LIN_HISTORIES");
    let started = std::time::Instant::now();
    let result = check_store(
        || {
            admin.batch_execute(EMPTY).unwrap();
            yielding(store.clone())
        },
        &config,
    );
    match result {
        Ok(report) => {
            eprintln!(
                "linearizability (postgres store): {report:?} in {:?}; calls overlapped in \
                 {:.1}% of the histories",
                started.elapsed(),
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
