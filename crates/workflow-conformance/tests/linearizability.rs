//! CONC-1, CONC-2, CONC-3 on the memory store: `LIN_HISTORIES` (default 1000) concurrent
//! histories of 4 threads × 5 operations on one run, each checked against the sequential
//! reference model by `workflow_conformance::linearizability`: the answers must be explained by
//! one serial order, and the store's final row, history records and outbox must be where that
//! order leads. At least a quarter of the histories must really overlap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use workflow_conformance::linearizability::{check_store, yielding, Config};
use workflow_store_memory::MemoryStore;

/// CONC-1, CONC-2, CONC-3: every recorded history of racing start, stop, callback, retry, get,
/// thread gate, approve and reap calls equals some serial order of them.
#[test]
fn conc_1_memory_store_histories_are_linearizable() {
    let config = Config::from_env("LIN_HISTORIES");
    // Yielding: the memory store is so fast that racing calls would rarely interleave.
    match check_store(|| yielding(MemoryStore::new()), &config) {
        Ok(report) => {
            eprintln!(
                "linearizability (memory store): {report:?}; calls overlapped in {:.1}% of \
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
