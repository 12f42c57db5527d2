#!/usr/bin/env bash
# End-to-end test of workflow-server with the real ksapi 3.18.2 client.
#
# Makes a venv (target/ksapi-venv, reused), installs ksapi==3.18.2, builds workflow-server,
# starts two servers on free loopback ports with the committed fixture and fresh SQLite files
# (one with --runner none: the script posts the callbacks; one with --runner local), runs
# ksapi_e2e.py, stops the servers (SIGTERM: graceful shutdown) and exits non-zero on any failure.
# The last line is `N passed, M failed`.
#
# With E2E_PG_URL=postgres://user@host:port/db (SCALE-1), each server gets a fresh PostgreSQL
# database on that cluster instead of a SQLite file (created with psql, dropped at the end).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/ksapi-venv"
work="$(mktemp -d "${TMPDIR:-/tmp}/wf-e2e.XXXXXX")"
pids=()

pg_dbs=()

cleanup() {
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  for d in "${pg_dbs[@]:-}"; do
    [ -n "$d" ] && psql -q "$E2E_PG_URL" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ksapi, sys; sys.exit(0 if ksapi.__version__ == "3.18.2" else 1)' 2>/dev/null; then
  echo "e2e: creating $venv and installing ksapi==3.18.2"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check ksapi==3.18.2
fi

echo "e2e: building workflow-server"
(cd "$root" && cargo build --quiet -p workflow-server --bin workflow-server)
bin="$target/debug/workflow-server"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Sets db_args, the --db of server $1: a SQLite file, or a fresh PostgreSQL database with
# E2E_PG_URL.
db_for() {
  if [ -z "${E2E_PG_URL:-}" ]; then
    db_args=(--db "$work/$1.sqlite")
    return
  fi
  local db="wf_e2e_${1}_$$"
  psql -q "$E2E_PG_URL" -c "CREATE DATABASE $db" >/dev/null
  pg_dbs+=("$db")
  db_args=(--db "${E2E_PG_URL%/*}/$db" --token-secret-file "$work/$1.token-secret")
}

start_server() { # name port extra-args...
  local name="$1" port="$2"; shift 2
  db_for "$name"
  "$bin" "${db_args[@]}" --listen "127.0.0.1:$port" --fixture "$here/fixture.json" \
    --maintenance-ms 200 "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=("$!")
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$work/$name.out" 2>/dev/null; then return 0; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "e2e: server $name did not start"; cat "$work/$name.log"; return 1
}

port_a="$(free_port)"
port_b="$(free_port)"
start_server none "$port_a" --runner none
start_server local "$port_b" --runner local --runner-delay-ms 500

status=0
WF_BASE_URL="http://127.0.0.1:$port_a" WF_LOCAL_URL="http://127.0.0.1:$port_b" \
  WF_FIXTURE="$here/fixture.json" WF_LOCAL_DELAY_S=0.5 \
  "$venv/bin/python" "$here/ksapi_e2e.py" || status=$?

# Graceful shutdown: SIGTERM, then the servers must exit 0.
for i in "${!pids[@]}"; do
  kill -TERM "${pids[$i]}" 2>/dev/null || true
  if ! wait "${pids[$i]}"; then
    echo "e2e: server ${pids[$i]} did not shut down cleanly"; status=1
  fi
  pids[$i]=""
done
if [ "$status" -ne 0 ]; then
  echo "e2e: server logs (tail):"; tail -n 30 "$work"/*.log || true
fi
exit "$status"
