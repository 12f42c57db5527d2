#!/usr/bin/env bash
# API fuzzing of workflow-server with schemathesis against its own `GET /openapi.json`.
#
# Makes a venv (target/schemathesis-venv, reused), installs schemathesis==4.32.5, builds
# workflow-server, starts it on a free loopback port with the committed fixture and a fresh
# SQLite file, seeds runs in every state (seed_runs.py; their ids and the fixture's go into
# the generated requests through schemathesis.toml's dictionaries), and runs `schemathesis run --checks all` with a bounded number of examples per
# operation, first as the fixture's OWNER, then (unless SCHEMATHESIS_USER_RUN=0) as a USER key.
# Stops the server by PID (SIGTERM), exits non-zero on any failure; the last line is
# `N passed, M failed` (schemathesis runs, one per key).
#
# Environment: SCHEMATHESIS_EXAMPLES (default 10, examples per operation and phase),
# SCHEMATHESIS_MAX_TIME (default 60, seconds per run), SCHEMATHESIS_USER_RUN (default 1),
# SCHEMATHESIS_SEED (default 1: the same cases every time).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/schemathesis-venv"
examples="${SCHEMATHESIS_EXAMPLES:-10}"
max_time="${SCHEMATHESIS_MAX_TIME:-60}"
user_run="${SCHEMATHESIS_USER_RUN:-1}"
work="$(mktemp -d "${TMPDIR:-/tmp}/wf-schemathesis.XXXXXX")"
pid=""

cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(0 if m.version("schemathesis") == "4.32.5" else 1)' 2>/dev/null; then
  echo "schemathesis: creating $venv and installing schemathesis==4.32.5"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

echo "schemathesis: building workflow-server"
(cd "$root" && cargo build --quiet -p workflow-server --bin workflow-server)
bin="$target/debug/workflow-server"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"$bin" --db "$work/db.sqlite" --listen "127.0.0.1:$port" --fixture "$here/fixture.json" \
  --runner local --runner-delay-ms 50 --maintenance-ms 200 >"$work/server.out" 2>"$work/server.log" &
pid="$!"
for _ in $(seq 1 100); do
  if grep -q "listening on" "$work/server.out" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if ! grep -q "listening on" "$work/server.out" 2>/dev/null; then
  echo "schemathesis: the server did not start"; cat "$work/server.log"; exit 1
fi
url="http://127.0.0.1:$port"

# Runs in every state (and uploads) for the generated requests to reach, then the config.
config="$work/schemathesis.toml"
python3 "$here/seed_runs.py" "$url" sk-user-e2e-owner >"$work/dictionaries.toml"
{
  cat "$work/dictionaries.toml" "$here/schemathesis.toml"
  echo '"path.run_id" = { dictionary = "runs", probability = 0.9 }'
  echo '"path.version_id" = { dictionary = "uploads", probability = 0.7 }'
} >"$config"

passed=0
failed=0
run() { # label key
  local label="$1" key="$2" status=0
  echo "schemathesis: $label (-n $examples, --max-time $max_time)"
  # From the scratch directory: schemathesis keeps a cache (.schemathesis/) in the cwd.
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$config" run "$url/openapi.json" --checks all -n "$examples" \
    --max-time "$max_time" --seed "${SCHEMATHESIS_SEED:-1}" --no-color \
    -H "Authorization: Bearer $key") || status=$?
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
  else
    echo "schemathesis: $label FAILED (exit $status)"
    failed=$((failed + 1))
  fi
}

run "as the fixture owner" sk-user-e2e-owner
if [ "$user_run" != "0" ]; then
  run "as a USER key" sk-user-e2e-linus
fi

# A 5xx anywhere is a failure too (schemathesis reports it, the log confirms it).
if grep -q '"status":5[0-9][0-9]\|status=5[0-9][0-9]' "$work/server.log" 2>/dev/null; then
  echo "schemathesis: the server answered 5xx:"; grep '5[0-9][0-9]' "$work/server.log" | tail -n 5
  failed=$((failed + 1))
fi

kill -TERM "$pid" 2>/dev/null || true
if ! wait "$pid"; then
  echo "schemathesis: the server did not shut down cleanly"; failed=$((failed + 1))
fi
pid=""
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
