#!/usr/bin/env bash
# End-to-end of the webhook runner (SPEC HOOK-1, HOOK-2): workflow-server --runner webhook on
# SQLite and webhook_receiver.py (the independent `standardwebhooks` package from PyPI verifies
# every delivery; it calls back with ksapi==3.18.2), both on loopback; webhook_e2e.py drives
# them. The venv (target/webhook-venv) is made once and reused. Everything is torn down by the
# trap. The last line is `N passed, M failed`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/webhook-venv"
work="$(mktemp -d "${TMPDIR:-/tmp}/wf-webhook.XXXXXX")"
export WF_WORK="$work"

cleanup() {
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  sleep 0.3
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  if [ "${status:-1}" -ne 0 ]; then
    echo "webhook e2e: logs (tail):"; tail -n 25 "$work"/*.log 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c '
import sys, importlib.metadata as m
sys.exit(0 if (m.version("ksapi"), m.version("standardwebhooks")) == ("3.18.2", "1.1.0") else 1)' 2>/dev/null; then
  echo "webhook e2e: creating $venv (ksapi==3.18.2, standardwebhooks==1.1.0)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check ksapi==3.18.2 standardwebhooks==1.1.0
fi

echo "webhook e2e: building workflow-server"
(cd "$root" && cargo build --quiet -p workflow-server --bin workflow-server)

status=0
WF_SERVER_BIN="$target/debug/workflow-server" WF_FIXTURE="$here/fixture.json" \
  timeout 300 "$venv/bin/python" "$here/webhook_e2e.py" || status=$?
exit "$status"
