//! Every rule the reference model encodes, on PostgreSQL: `PG_CASES` (default 16) random
//! operation sequences (`workflow_conformance::model::strategies::sequence`, the same ones the
//! SQLite store's test draws) compared step by step with the model by `model::check_sequence`
//! (answers, AUDIT-1, ERR-2, SNAP-7, CONC-5, idempotent replays), each on a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use workflow_conformance::model::check_sequence;
use workflow_conformance::model::strategies::for_sequences;

/// CONC-1, AUDIT-1, ERR-2, SNAP-7, CONC-5, START-2, STOP-2, CB-3, CB-4, APPROVE-4, CREATE-6
/// and the rules of SPEC section 3: the engine on PostgreSQL agrees with the model step by
/// step.
#[test]
fn pg_engine_matches_model() {
    let cases = u32::try_from(workflow_conformance::env_count("PG_CASES", 16)).unwrap_or(u32::MAX);
    for_sequences(cases, |steps| {
        // A fresh database per case; the store owns it and drops it (after closing its pool)
        // when check_sequence is done with the store.
        match common::PgTempStore::new() {
            Some(store) => check_sequence(store, steps),
            None => Ok(()),
        }
    });
}
