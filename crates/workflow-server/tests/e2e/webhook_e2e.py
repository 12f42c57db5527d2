"""End-to-end of SPEC HOOK-1, HOOK-2 (and DISP-2, DISP-5, DISP-6 through webhooks); see webhook.sh.

Processes: workflow-server --runner webhook on SQLite, and webhook_receiver.py, which verifies
every delivery with the independent `standardwebhooks` package and calls back with ksapi. Through
ksapi:
  * create -> start -> the receiver gets the signed dispatch, posts the callback -> COMPLETED;
  * a tampered body, a wrong secret and a stale timestamp are refused by that receiver;
  * a receiver answering 503 (Retry-After: 2) twice, then 200, gets the same webhook-id three
    times, the second at least 2 s after the first, and the run completes once;
  * a receiver answering 410 gets the run dead-lettered: FAILED "Dispatch failed: ...";
  * a receiver that hangs is cut off by the timeout, other runs' deliveries go on meanwhile,
    and the hanging run completes once the receiver answers;
  * a stop sends a signed cancel ({"type": "cancel"}) with its own webhook-id;
  * every delivery the server made verified.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import ksapi
from ksapi.models import StartWorkflowRunRequest
from standardwebhooks.webhooks import Webhook

WORK = os.environ["WF_WORK"]
FIXTURE = json.load(open(os.environ["WF_FIXTURE"]))
KEYS = {u["first_name"].lower(): u["api_key"] for u in FIXTURE["users"]}
DEFS = {d["name"]: d["id"] for d in FIXTURE["definitions"]}
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_MS = 1000

passed = 0
failed = 0


def check(name: str, cond: bool, detail: str = "") -> None:
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name} {detail}", flush=True)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A child process with a pid file (the shell's trap kills what is left)."""

    def __init__(self, name: str, args: list[str]):
        self.name = name
        self.out_path = os.path.join(WORK, f"{name}.out")
        self.p = subprocess.Popen(
            args, stdout=open(self.out_path, "ab"), stderr=open(os.path.join(WORK, f"{name}.log"), "ab"),
            start_new_session=True,
        )
        with open(os.path.join(WORK, f"{name}.pid"), "w") as f:
            f.write(str(self.p.pid))

    def wait_line(self, text: str, timeout: float = 30) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if text in open(self.out_path, errors="replace").read():
                return
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.p.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {text!r} after {timeout}s")

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


API, HOOK = free_port(), free_port()
BASE = f"http://127.0.0.1:{API}"
HOOK_URL = f"http://127.0.0.1:{HOOK}/hooks/workflow-runs"
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def post(url: str, body: bytes, headers: dict) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def received() -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{HOOK}/deliveries", timeout=10) as r:
        return json.loads(r.read())


def deliveries(run_id: str, kind: str = "dispatch") -> list[dict]:
    return [r for r in received()["requests"]
            if not r["probe"] and r.get("run_id") == run_id and r.get("type") == kind]


def wait_for(what, timeout: float = 30.0):
    end = time.time() + timeout
    while True:
        value = what()
        if value or time.time() > end:
            return value
        time.sleep(0.05)


def wait_state(runs, rid, states, timeout=30.0):
    end = time.time() + timeout
    while True:
        r = runs.get_workflow_run(rid)
        if r.execution_state.value in states or time.time() > end:
            return r
        time.sleep(0.05)


def start_run(runs, defs, name: str, mode: str | None = None):
    r = defs.create_workflow_run(DEFS["triage"], name=name)
    message = f"webhook-e2e:{mode}" if mode else None
    runs.start_workflow_run(r.id, StartWorkflowRunRequest(user_message=message))
    return str(r.id)


def main() -> int:
    secret_file = os.path.join(WORK, "webhook.secret")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(secret_file, 0o600)
    receiver = Proc("receiver", [sys.executable, os.path.join(HERE, "webhook_receiver.py"),
                                 "--listen", f"127.0.0.1:{HOOK}", "--secret-file", secret_file])
    receiver.wait_line("listening on")
    server = Proc("server", [
        os.environ["WF_SERVER_BIN"], "--db", os.path.join(WORK, "e2e.sqlite"),
        "--listen", f"127.0.0.1:{API}", "--fixture", os.environ["WF_FIXTURE"],
        "--runner", "webhook", "--webhook-url", HOOK_URL, "--webhook-secret-file", secret_file,
        "--webhook-timeout-ms", str(TIMEOUT_MS), "--maintenance-ms", "100",
        "--relay-workers", "4",
    ])
    server.wait_line("listening on")
    client = ksapi.ApiClient(ksapi.Configuration(host=BASE, access_token=KEYS["ada"]))
    runs, defs = ksapi.WorkflowRunsApi(client), ksapi.WorkflowDefinitionsApi(client)

    # ---- HOOK-1, HOOK-2: create -> start -> signed dispatch -> callback with the token -> COMPLETED.
    latencies = []
    happy = []
    for i in range(5):
        t0 = time.time()
        rid = start_run(runs, defs, f"webhook-happy-{i}")
        got = wait_for(lambda: deliveries(rid))
        latencies.append((got[0]["at"] - t0) * 1000 if got else float("inf"))
        happy.append(rid)
    done = [wait_state(runs, rid, {"COMPLETED", "FAILED"}) for rid in happy]
    check("HOOK-1: every started run completed through the receiver's callback",
          all(r.execution_state.value == "COMPLETED" for r in done),
          str([(r.execution_state.value, r.error) for r in done]))
    names = [a.name for a in (done[0].outputs.assets if done[0].outputs else [])]
    check("the receiver wrote its output with the token (RTOK-2)", "result-attempt-1.md" in names, str(names))
    first = deliveries(happy[0])
    check("HOOK-1: one delivery per dispatch, verified by standardwebhooks",
          len(first) == 1 and first[0]["verified"], str(first))
    payload = json.loads(base64.b64decode(first[0]["body_b64"]))
    check("DISP-1: the payload is workflow-run-dispatch/1 with callback URL and token",
          payload["schema"] == "workflow-run-dispatch/1" and payload["attempt"] == 1
          and payload["callback_url"] == f"{BASE}/v1/workflow-runs/{happy[0]}/callback"
          and payload["callback_token"].startswith("wrt1."), str(payload)[:300])
    cbs = [c for c in received()["callbacks"] if c["run_id"] in happy]
    check("each callback answered 'updated'",
          len(cbs) == len(happy) and all(c["outcome"] == "updated" for c in cbs), str(cbs))
    print(f"delivery latency start -> receiver (ms): "
          f"median {statistics.median(latencies):.1f}, max {max(latencies):.1f}", flush=True)

    # ---- HOOK-2: the receiver refuses a tampered body, a wrong secret and a stale timestamp.
    d = first[0]
    raw = base64.b64decode(d["body_b64"])
    probe = {"Content-Type": "application/json", "x-e2e-probe": "1"}
    original = {**probe, "webhook-id": d["id"], "webhook-timestamp": d["timestamp"],
                "webhook-signature": d["signature"]}
    check("HOOK-2: the delivery replayed verbatim verifies (a duplicate, not processed again)",
          post(HOOK_URL, raw, original) == 200)
    tampered = raw.replace(b'"attempt":1', b'"attempt":2')
    check("the probe really changed the body", tampered != raw)
    check("HOOK-2: a tampered body is refused", post(HOOK_URL, tampered, original) == 401)
    now = datetime.now(tz=timezone.utc)
    wrong = Webhook("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    signed_wrong = {**probe, "webhook-id": d["id"], "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": wrong.sign(d["id"], now, raw.decode())}
    check("HOOK-2: a wrong secret is refused", post(HOOK_URL, raw, signed_wrong) == 401)
    stale = datetime.fromtimestamp(int(now.timestamp()) - 600, tz=timezone.utc)
    signed_stale = {**probe, "webhook-id": d["id"], "webhook-timestamp": str(int(stale.timestamp())),
                    "webhook-signature": Webhook(SECRET).sign(d["id"], stale, raw.decode())}
    check("HOOK-2: a stale timestamp (10 min) is refused, though signed with the right secret",
          post(HOOK_URL, raw, signed_stale) == 401)
    fresh = {**signed_stale, "webhook-timestamp": str(int(now.timestamp())),
             "webhook-signature": Webhook(SECRET).sign(d["id"], now, raw.decode())}
    check("HOOK-2: the same body signed now with the right secret verifies", post(HOOK_URL, raw, fresh) == 200)

    # ---- HOOK-1, DISP-2, DISP-4: 503 twice (Retry-After: 2), then 200: one id, one completion.
    rid = start_run(runs, defs, "webhook-503", "503x2")
    r = wait_state(runs, rid, {"COMPLETED", "FAILED"})
    check("503x2: the run completed", r.execution_state.value == "COMPLETED", f"{r.execution_state} {r.error}")
    got = deliveries(rid)
    check("503x2: three deliveries, all verified, all with the same webhook-id",
          len(got) == 3 and all(g["verified"] for g in got) and len({g["id"] for g in got}) == 1,
          str([(g["id"], g["try"]) for g in got]))
    if len(got) >= 2:
        gap = got[1]["at"] - got[0]["at"]
        check("HOOK-1: Retry-After: 2 honoured (the backoff alone would be <= 1 s)", gap >= 1.9,
              f"{gap:.2f}s")
        print(f"503x2: retries after {gap:.2f}s and {got[2]['at'] - got[1]['at']:.2f}s", flush=True)
    cbs = [c for c in received()["callbacks"] if c["run_id"] == rid]
    check("503x2: the run was completed once (one callback, 'updated')",
          [c["outcome"] for c in cbs] == ["updated"], str(cbs))

    # ---- DISP-5: 410 Gone -> dead letter -> FAILED "Dispatch failed: ...".
    rid = start_run(runs, defs, "webhook-410", "410")
    r = wait_state(runs, rid, {"COMPLETED", "FAILED"})
    check("410: the run failed with 'Dispatch failed: ...'",
          r.execution_state.value == "FAILED" and (r.error or "").startswith("Dispatch failed: ")
          and "410" in (r.error or ""), f"{r.execution_state} {r.error}")
    print(f"410: error = {r.error!r}", flush=True)
    time.sleep(1.5)  # longer than any backoff of a retry
    check("410: delivered once, not retried", len(deliveries(rid)) == 1, str(len(deliveries(rid))))

    # ---- HOOK-1, DISP-6: a hanging receiver is cut off; other runs' deliveries go on meanwhile.
    hang = start_run(runs, defs, "webhook-hang", "hang")
    first_hang = wait_for(lambda: deliveries(hang))
    t_hang = first_hang[0]["at"] if first_hang else time.time()
    others = [start_run(runs, defs, f"webhook-beside-hang-{i}") for i in range(3)]
    beside = [wait_state(runs, o, {"COMPLETED", "FAILED"}) for o in others]
    check("DISP-6: the other runs completed",
          all(b.execution_state.value == "COMPLETED" for b in beside),
          str([(b.execution_state.value, b.error) for b in beside]))
    arrived = [max((g["at"] for g in deliveries(o)), default=float("inf")) - t_hang for o in others]
    check(f"DISP-6: their deliveries arrived while the server still waited on the hanging one "
          f"(within its {TIMEOUT_MS} ms timeout)", max(arrived) < TIMEOUT_MS / 1000,
          f"{[round(a, 3) for a in arrived]}")
    print(f"hang: other runs' deliveries arrived {min(arrived):.3f}-{max(arrived):.3f}s "
          f"after the hanging one", flush=True)
    r = wait_state(runs, hang, {"COMPLETED", "FAILED"}, timeout=40)
    got = deliveries(hang)
    check("hang: the run completed once the receiver answered",
          r.execution_state.value == "COMPLETED" and len(got) == 3, f"{r.execution_state} {len(got)}")
    if len(got) >= 2:
        gap = got[1]["at"] - got[0]["at"]
        check(f"HOOK-1: a hanging delivery is cut off after the {TIMEOUT_MS} ms timeout "
              f"(redelivered before the 8 s hang ended)", gap < 4.0, f"{gap:.2f}s")
        print(f"hang: redelivered {gap:.2f}s after the first try", flush=True)
    check("hang: same webhook-id on every redelivery", len({g["id"] for g in got}) == 1)

    # ---- HOOK-1, DISP-3: a stop sends a signed cancel with its own webhook-id.
    rid = start_run(runs, defs, "webhook-cancel", "hold")
    wait_for(lambda: deliveries(rid))
    stopped = runs.stop_workflow_run(rid)
    check("stop: FAILED 'Stopped by user'",
          stopped.execution_state.value == "FAILED" and stopped.error == "Stopped by user")
    cancel = wait_for(lambda: deliveries(rid, "cancel"))
    check("stop: the receiver got a verified {\"type\": \"cancel\"} with another webhook-id",
          len(cancel) == 1 and cancel[0]["verified"] and cancel[0]["id"] != deliveries(rid)[0]["id"],
          str(cancel))

    # ---- every delivery the server made verified; the metrics name the adapter.
    made = [r for r in received()["requests"] if not r["probe"]]
    check(f"HOOK-2: all {len(made)} deliveries of the server verified",
          len(made) > 0 and all(r["verified"] for r in made),
          str([r for r in made if not r["verified"]])[:300])
    with urllib.request.urlopen(f"{BASE}/metrics", timeout=10) as m:
        metrics = m.read().decode()
    check("DISP-7: /metrics counts deliveries of the webhook adapter", 'adapter="webhook"' in metrics)

    code = server.stop()
    check("the server shut down cleanly", code == 0, str(code))
    receiver.stop()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
