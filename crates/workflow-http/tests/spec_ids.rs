//! Every SPEC rule ID of sections 6, 7 and 8 (ERR-*, HTTP-*, FIX-*) is exercised by a test of
//! this crate: it appears in the name or the doc comment of a `#[test]`/`#[tokio::test]`
//! function here.
//!
//! The list below is the SPEC's (sections 6–8). When the SPEC file is at hand (`SPEC_MD`, or
//! `/work/shared/SPEC.md`), the test also re-reads the IDs from it, so a rule added there
//! without a test fails here.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;

const IDS: &[&str] = &["ERR-1", "ERR-2", "HTTP-1", "HTTP-2", "HTTP-3", "FIX-1"];

/// IDs of the form `ABC-1` in `text`.
fn ids_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_uppercase() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < b.len() && b[i].is_ascii_uppercase() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'-' && b[i + 1].is_ascii_digit() {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                out.insert(text[start..j].to_owned());
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The doc comments and names of the test functions in `src`, one string per test.
fn tests_in(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut docs = String::new();
    let mut is_test = false;
    for line in src.lines() {
        let l = line.trim();
        if let Some(d) = l.strip_prefix("///") {
            docs.push_str(d);
            docs.push(' ');
        } else if l.starts_with("#[test]") || l.starts_with("#[tokio::test") {
            is_test = true;
        } else if l.starts_with("#[") {
        } else if l.contains("fn ") {
            if is_test {
                let name = l.split("fn ").nth(1).unwrap_or_default();
                out.push(format!("{docs} {}", name.to_uppercase().replace('_', "-")));
            }
            docs.clear();
            is_test = false;
        } else {
            docs.clear();
        }
    }
    out
}

#[test]
fn every_spec_id_of_sections_6_to_8_is_exercised() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("spec_ids.rs") {
            let src = std::fs::read_to_string(&path).unwrap();
            for t in tests_in(&src) {
                covered.extend(ids_in(&t));
            }
        }
    }
    let missing: Vec<_> = IDS.iter().filter(|id| !covered.contains(**id)).collect();
    assert!(missing.is_empty(), "SPEC IDs without a test: {missing:?}");

    let spec = std::env::var("SPEC_MD").unwrap_or_else(|_| "/work/shared/SPEC.md".to_owned());
    if let Ok(text) = std::fs::read_to_string(spec) {
        let from = text.find("## 6.").unwrap();
        let listed: BTreeSet<String> = IDS.iter().map(|s| (*s).to_owned()).collect();
        // The rules these sections define (`- HTTP-1: ...`), not the ones they refer to.
        let in_spec: BTreeSet<String> = text[from..]
            .lines()
            .flat_map(|l| {
                ids_in(l)
                    .into_iter()
                    .filter(move |id| l.contains(&format!("{id}:")))
            })
            .collect();
        let unlisted: Vec<_> = in_spec.difference(&listed).collect();
        assert!(
            unlisted.is_empty(),
            "SPEC sections 6-8 name IDs this crate does not list: {unlisted:?}"
        );
    }
}

#[test]
fn id_scanner_finds_ids() {
    assert_eq!(
        ids_in("see HTTP-2 and FIX-1, not abc-1 or X-"),
        ["FIX-1", "HTTP-2"].iter().map(|s| s.to_string()).collect()
    );
}
