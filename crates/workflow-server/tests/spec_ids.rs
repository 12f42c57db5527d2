//! Every SPEC rule ID of section 8 (the standalone server and its fixture file: FIX-*) is
//! exercised by a test of this crate (see `workflow_conformance::spec_ids`).
#![allow(missing_docs)]

#[test]
fn every_spec_id_of_section_8_is_exercised() {
    workflow_conformance::spec_ids::check(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        "## 8.",
        "## 9.",
        &["FIX-1"],
    );
}
