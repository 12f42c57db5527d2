"""Creates runs of the fixture in every state for schemathesis.sh and prints a schemathesis
`[dictionaries.runs]` / `[dictionaries.uploads]` TOML fragment with their ids, so generated
requests reach real runs. Usage: seed_runs.py BASE_URL OWNER_KEY"""

import json
import sys
import time
import urllib.request

base, key = sys.argv[1], sys.argv[2]
SUMMARISE = "8eec69a1-330e-53b4-a884-2be90ab90470"  # approval required
TRIAGE = "7b308138-3892-5cd5-92c9-51a93b79796a"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


runs, uploads = [], []
for i in range(3):
    for definition in (SUMMARISE, TRIAGE):
        draft = call("POST", f"/v1/workflow-definitions/{definition}/runs", {"name": f"draft-{i}"})
        runs.append(draft["id"])
        up = call("POST", f"/v1/workflow-runs/{draft['id']}/inputs", {"name": f"upload-{i}.txt"})
        uploads.append(up["version_path_part_id"])
        for state in ("running", "completed", "failed"):
            run = call("POST", f"/v1/workflow-definitions/{definition}/runs", {"name": f"{state}-{i}"})
            call("POST", f"/v1/workflow-runs/{run['id']}/start", {"user_message": "go"})
            runs.append(run["id"])
            if state != "running":
                status = "COMPLETED" if state == "completed" else "FAILED"
                # The local runner may have finished it already: that answers already_terminal.
                call("POST", f"/v1/workflow-runs/{run['id']}/callback", {"status": status, "error": "seeded"})
time.sleep(0.2)
print("[dictionaries.runs]")
print("values = " + json.dumps(runs))
print("[dictionaries.uploads]")
print("values = " + json.dumps(uploads))
