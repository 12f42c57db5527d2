//! Every SPEC rule ID of sections 6 and 7 (ERR-*, HTTP-*) is exercised by a test of this crate
//! (see `workflow_conformance::spec_ids`). Section 8 (the standalone server, FIX-*) is checked
//! the same way by `workflow-server`.
#![allow(missing_docs)]

/// The IDs of SPEC sections 6 and 7; the check also re-reads them from SPEC.md, so a rule
/// added there without a test fails here.
const IDS: &[&str] = &["ERR-1", "ERR-2", "HTTP-1", "HTTP-2", "HTTP-3"];

#[test]
fn every_spec_id_of_sections_6_and_7_is_exercised() {
    workflow_conformance::spec_ids::check(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        "## 6.",
        "## 8.",
        IDS,
    );
}
