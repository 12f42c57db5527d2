//! The whole conformance suite on PostgreSQL, the same cases as the memory and SQLite stores,
//! each on a fresh database (SCALE-1: every rule of sections 3-5 holds on this store). Each case
//! returns early, with a note, when `WORKFLOW_PG_URL` is unset outside CI (in CI it fails).
mod common;

workflow_conformance::conformance_tests!(match crate::common::PgTempStore::new() {
    Some(store) => store,
    None => return,
});
