#!/usr/bin/env bash
# Smoke-runs every fuzz target for $FUZZ_SECONDS seconds each (default 20) on the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only sanitizer flags).
# Installs cargo-fuzz first if it is missing. Exits non-zero on a crash; the crashing input is
# left under fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
TARGETS=(engine_ops sqlite_ops http_bodies tokens)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    # Work on a scratch copy so the committed seed corpus stays small.
    work="$(mktemp -d)"
    cp "corpus/$t"/* "$work"/ 2>/dev/null || true
    echo "== $t for ${FUZZ_SECONDS}s"
    cargo fuzz run -O "$t" "$work" "corpus/$t" -- -max_total_time="$FUZZ_SECONDS" -print_final_stats=1
    rm -rf "$work"
done
