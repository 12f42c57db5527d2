#!/usr/bin/env bash
# The served OpenAPI document is valid OpenAPI 3.1 and generates a client (issue 15, item 10).
#
# Makes a venv (target/openapi-venv, reused) with openapi-spec-validator==0.9.0 and
# openapi-python-client==0.29.1 from PyPI, builds workflow-server, starts it in memory on a free
# loopback port, fetches GET /openapi.json, then:
#   1. validates it with openapi-spec-validator (the OpenAPI 3.1 schema and its semantic
#      checks): 0 errors allowed, every error is printed;
#   2. generates a Python client from it with openapi-python-client and imports the generated
#      package (a smoke check that a generator accepts the document).
# Stops the server by PID (SIGTERM). The last line is `N passed, M failed` (the two checks).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/openapi-venv"
work="$(mktemp -d "${TMPDIR:-/tmp}/wf-openapi.XXXXXX")"
pid=""

cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

want_validator="0.9.0"
want_client="0.29.1"
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if (m.version('openapi-spec-validator'), m.version('openapi-python-client')) == ('$want_validator', '$want_client') else 1)" 2>/dev/null; then
  echo "openapi: creating $venv (openapi-spec-validator==$want_validator, openapi-python-client==$want_client)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "openapi-spec-validator==$want_validator" "openapi-python-client==$want_client"
fi

echo "openapi: building workflow-server"
(cd "$root" && cargo build --quiet -p workflow-server --bin workflow-server)
bin="$target/debug/workflow-server"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"$bin" --memory --listen "127.0.0.1:$port" --runner none >"$work/server.out" 2>"$work/server.log" &
pid="$!"
for _ in $(seq 1 100); do
  if grep -q "listening on" "$work/server.out" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if ! grep -q "listening on" "$work/server.out" 2>/dev/null; then
  echo "openapi: the server did not start"; cat "$work/server.log"; exit 1
fi
python3 - "http://127.0.0.1:$port/openapi.json" "$work/openapi.json" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    open(sys.argv[2], "wb").write(r.read())
PY
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""

passed=0
failed=0

echo "openapi: validating with openapi-spec-validator $want_validator"
if "$venv/bin/python" - "$work/openapi.json" <<'PY'
import json, sys
from openapi_spec_validator import OpenAPIV31SpecValidator

doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.1"), doc["openapi"]
errors = list(OpenAPIV31SpecValidator(doc).iter_errors())
for e in errors:
    where = "/".join(str(p) for p in e.absolute_path)
    print(f"  {where}: {e.message[:300]}")
print(f"openapi: {len(errors)} validation errors, {len(doc['paths'])} paths")
sys.exit(1 if errors else 0)
PY
then
  passed=$((passed + 1))
else
  echo "openapi: the document is not valid OpenAPI 3.1"
  failed=$((failed + 1))
fi

echo "openapi: generating a Python client with openapi-python-client $want_client"
# No post hooks: they would run ruff, which the venv does not need; any other warning fails.
echo '{"post_hooks": []}' >"$work/client-config.json"
if (cd "$work" && "$venv/bin/openapi-python-client" generate --path openapi.json \
      --config client-config.json --output-path client --meta none --overwrite \
      >"$work/generate.log" 2>&1) \
   && ! grep -qi "warning\|error" "$work/generate.log" \
   && (cd "$work" && "$venv/bin/python" -c "import client, client.models, client.api; print('openapi: generated client imports,', len(client.models.__all__), 'models')"); then
  passed=$((passed + 1))
else
  echo "openapi: client generation failed or warned:"; cat "$work/generate.log"
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
