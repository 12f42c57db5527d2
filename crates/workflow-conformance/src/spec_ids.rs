//! The SPEC-ID coverage check every crate runs in its `tests/spec_ids.rs`: each rule ID that a
//! range of SPEC sections defines must appear in the name or the doc comment of a
//! `#[test]`/`#[tokio::test]` function under the crate's `tests/` (subdirectories included).
//! SPEC.md must be found, or the check fails (a check that skips is no check): `SPEC_MD` when
//! set, else `../shared/SPEC.md` next to the workspace root (CI's fresh clone has a copy of
//! `shared/` beside it), else `/work/shared/SPEC.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// IDs of the form `ABC-1` in `text`.
pub fn ids_in(text: &str) -> BTreeSet<String> {
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
pub fn tests_in(src: &str) -> Vec<String> {
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

/// The `.rs` files under `dir`, recursively.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// SPEC.md's text: `SPEC_MD`, else `../shared/SPEC.md` beside `workspace` (its root), else
/// `/work/shared/SPEC.md`. Panics when none can be read.
pub fn spec_text(workspace: &Path) -> (PathBuf, String) {
    let candidates: Vec<PathBuf> = match std::env::var_os("SPEC_MD") {
        // An explicit path is the only one tried: a typo must not fall back to another copy.
        Some(p) => vec![PathBuf::from(p)],
        None => {
            vec![
                workspace.join("../shared/SPEC.md"),
                PathBuf::from("/work/shared/SPEC.md"),
            ]
        }
    };
    for path in &candidates {
        if let Ok(text) = std::fs::read_to_string(path) {
            return (path.clone(), text);
        }
    }
    panic!("SPEC.md not found (tried {candidates:?}); set SPEC_MD to its path");
}

/// The IDs a range of SPEC sections defines (`- HTTP-1: ...`), not the ones it refers to:
/// from the heading starting with `from` up to the one starting with `to`.
pub fn defined_ids(spec: &str, from: &str, to: &str) -> BTreeSet<String> {
    let start = spec
        .find(from)
        .unwrap_or_else(|| panic!("SPEC.md has no heading {from:?}"));
    let len = spec[start..]
        .find(to)
        .unwrap_or_else(|| panic!("SPEC.md has no heading {to:?} after {from:?}"));
    spec[start..start + len]
        .lines()
        .flat_map(|l| {
            ids_in(l)
                .into_iter()
                .filter(move |id| l.contains(&format!("{id}:")))
        })
        .collect()
}

/// The whole check for the crate at `crate_dir`: every ID of `expected` is named by a test under
/// `crate_dir/tests` (other than `spec_ids.rs` itself), and `expected` is exactly what the SPEC
/// sections from the heading `from` up to `to` define. Panics with what is missing.
pub fn check(crate_dir: &Path, from: &str, to: &str, expected: &[&str]) {
    let mut files = Vec::new();
    rust_files(&crate_dir.join("tests"), &mut files);
    let mut covered = BTreeSet::new();
    let mut tests = 0;
    for path in files.iter().filter(|p| !p.ends_with("spec_ids.rs")) {
        for t in tests_in(&std::fs::read_to_string(path).unwrap()) {
            tests += 1;
            covered.extend(ids_in(&t));
        }
    }
    assert!(
        tests > 0,
        "no test functions found under {}/tests",
        crate_dir.display()
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !covered.contains(**id))
        .collect();
    assert!(missing.is_empty(), "SPEC IDs without a test: {missing:?}");
    let (path, spec) = spec_text(&crate_dir.join("../.."));
    let in_spec = defined_ids(&spec, from, to);
    let listed: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        in_spec,
        listed,
        "the IDs SPEC.md ({}) defines from {from:?} to {to:?} and the crate's list differ",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_ranges_are_found_and_ids_defined_not_referenced() {
        let spec = "## 5. x\n- A-1: a\n## 6. Errors\n- ERR-1: see A-1.\n## 8. Server\n- FIX-1: f\n";
        assert_eq!(
            defined_ids(spec, "## 6.", "## 8."),
            ["ERR-1"].iter().map(|s| s.to_string()).collect()
        );
    }

    #[test]
    fn id_scanner_finds_ids() {
        assert_eq!(
            ids_in("see HTTP-2 and FIX-1, not abc-1 or X-"),
            ["FIX-1", "HTTP-2"].iter().map(|s| s.to_string()).collect()
        );
    }
}
