#!/usr/bin/env bash
# Benchmarks in one go (issue 13). Not part of CI (CI only builds them: clippy --all-targets).
#
#   bash scripts/bench.sh callgrind   # instructions per lifecycle (valgrind, noise-free)
#   bash scripts/bench.sh             # callgrind, then every criterion bench's summary line
#
# callgrind counts instructions, not seconds: the same binary and inputs give the same count
# whatever else the machine is doing, so a change that costs more instructions shows up even
# on a busy machine. Each store is counted twice, with N and 2N lifecycles after the same
# setup; (count(2N) - count(N)) / N is one lifecycle without the setup.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${CALLGRIND_LIFECYCLES:-200}

callgrind() {
    command -v valgrind >/dev/null || { echo "bench.sh: valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
    cargo build -q --release -p workflow-server --example lifecycles
    local bin=target/release/examples/lifecycles out
    out=$(mktemp -d)
    printf '%-34s %14s\n' "figure" "instructions"
    for store in memory sqlite big-start; do
        local counts=()
        for n in "$N" $((2 * N)); do
            valgrind --tool=callgrind --callgrind-out-file="$out/$store.$n" "$bin" "$store" "$n" \
                >"$out/$store.$n.log" 2>&1 || { cat "$out/$store.$n.log" >&2; exit 1; }
            counts+=("$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/$store.$n.log")")
        done
        local label="lifecycle, $store"
        [ "$store" = sqlite ] && label="lifecycle, SQLite NORMAL"
        [ "$store" = big-start ] && label="create + start, 200 refs, memory"
        printf '%-34s %14d\n' "$label" $(((counts[1] - counts[0]) / N))
    done
    echo "(callgrind files in $out: callgrind_annotate --inclusive=yes $out/memory.$((2 * N)))"
}

criterion_summaries() {
    # Each bench prints its own ratio line(s) after criterion's output; keep those.
    local log
    log=$(mktemp)
    run() { echo "== $*"; "$@" >"$log" 2>&1 || { tail -20 "$log"; return 1; }; grep -E '->|x of|threads:|ratio|lifecycles/s' "$log" | grep -v '^Benchmarking' || true; }
    run cargo bench -q -p workflow-store-memory --bench lifecycle
    run cargo bench -q -p workflow-store-sqlite --bench lifecycle
    run cargo bench -q -p workflow-store-sqlite --bench group_commit
    BENCH_STORE=both BENCH_SECS=3 BENCH_ROUNDS=3 run cargo bench -q -p workflow-server --bench get_run
    if [ -n "${WORKFLOW_PG_URL:-}" ]; then
        run cargo bench -q -p workflow-store-postgres --bench lifecycle
        run cargo bench -q -p workflow-server --bench pg_processes
    else
        echo "== PostgreSQL benches skipped: WORKFLOW_PG_URL unset (url=\$(bash scripts/pg.sh start /tmp/pg))"
    fi
}

case "${1:-all}" in
    callgrind) callgrind ;;
    all) callgrind; criterion_summaries ;;
    *) echo "usage: $0 [callgrind|all]" >&2; exit 2 ;;
esac
