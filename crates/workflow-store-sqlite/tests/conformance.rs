//! The whole conformance suite, the same cases as the memory store, each on a fresh file.
mod common;

workflow_conformance::conformance_tests!(crate::common::TempStore::new());
