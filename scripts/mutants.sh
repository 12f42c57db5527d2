#!/usr/bin/env bash
# Mutation testing of workflow-core's pure modules (rules/, policy.rs, snapshot.rs) with
# cargo-mutants, against the tests that live beside them (`cargo test --lib`). Not run in CI:
# it takes tens of minutes on 2 cores. The results are summarised in MUTANTS.md.
#
#   bash scripts/mutants.sh            # all mutants of the three modules
#   bash scripts/mutants.sh -F decide_reap   # extra cargo-mutants arguments, e.g. a filter
#
# Why a standalone copy: workflow-core's dev-dependencies (memory store, conformance suite,
# SQLite store) depend on workflow-core itself, so in the workspace every mutant would rebuild
# all of them. The lib tests need none of them: the copy drops them (and the integration tests
# and examples that use them), so a mutant costs one build of workflow-core.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants

work=$(mktemp -d /tmp/workflow-mutants.XXXXXX)
trap '[ -n "${KEEP_MUTANTS_DIR:-}" ] || rm -rf "$work"' EXIT
cp -r crates/workflow-core "$work/workflow-core"
cd "$work/workflow-core"
# The integration tests and examples need the dev-dependencies; the lib tests include
# tests/transitions.json (the 704-case table), so it stays.
find tests -mindepth 1 ! -name transitions.json -delete
rm -rf examples
python3 - "$root/Cargo.toml" <<'PY'
import re, sys, tomllib
ws = tomllib.load(open(sys.argv[1], "rb"))
pkg = ws["workspace"]["package"]
deps = ws["workspace"]["dependencies"]
text = open("Cargo.toml").read()
for key in ("version", "edition", "license", "rust-version", "repository"):
    text = re.sub(rf"^{key}\.workspace = true$", f'{key} = "{pkg[key]}"', text, flags=re.M)
def val(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
    return '"' + str(v) + '"'
def dep(name):
    return f"{name} = {val(deps[name])}"
out = []
section = None
for line in text.splitlines():
    m = re.match(r"^\[(.*)\]$", line)
    if m:
        section = m.group(1)
        if section == "lints":
            continue
    elif section == "lints":
        continue
    m = re.match(r"^([a-z0-9_-]+)\.workspace = true$", line)
    if m:
        name = m.group(1)
        if name.startswith("workflow-") or name == "tempfile":
            continue
        line = dep(name)
    out.append(line)
open("Cargo.toml", "w").write("\n".join(out) + "\n\n[workspace]\n")
PY
export PROPTEST_CASES="${PROPTEST_CASES:-64}"
cargo mutants --no-shuffle -j 1 \
    -f 'src/rules/**' -f src/policy.rs -f src/snapshot.rs \
    --output "$root/target/mutants" "$@" -- --lib
