"""End-to-end of SPEC section 9 against a real Temporal dev server (see temporal.sh).

Processes: the Temporal dev server (SQLite file, so it can be stopped and started again), the
workflow-server with --runner temporal (SQLite), the reference worker. Through ksapi:
  * create -> start reaches COMPLETED through the worker's callback, with its output;
  * a run stopped while its activity works ends FAILED "Stopped by user" and its Temporal
    execution ends CANCELED;
  * retry gives attempt 2 under another workflow id, and a late callback with the attempt-1
    token answers stale_attempt;
  * faults: Temporal down while 20 runs start (no API call fails), then up: all complete;
    workflow-server SIGKILLed with dispatches queued, restarted: all complete;
  * exactly one Temporal execution per (run, attempt) (DISP-2);
  * the delivery latency from commit (the run's started_at) to Temporal's start of the
    execution, p50 and p99 over LATENCY_RUNS runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import quote

import ksapi
from ksapi.models import StartWorkflowRunRequest, WorkflowRunCallbackRequest

WORK = os.environ["WF_WORK"]
FIXTURE = json.load(open(os.environ["WF_FIXTURE"]))
KEYS = {u["first_name"].lower(): u["api_key"] for u in FIXTURE["users"]}
DEFS = {d["name"]: d["id"] for d in FIXTURE["definitions"]}
LATENCY_RUNS = int(os.environ.get("LATENCY_RUNS", "200"))

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


def http(method: str, url: str, body=None, key: str | None = None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None


class Proc:
    """A child process with a pid file (the shell's trap kills what is left)."""

    starts: dict[str, int] = {}

    def __init__(self, name: str, args: list[str], env: dict | None = None):
        n = Proc.starts[name] = Proc.starts.get(name, 0) + 1
        self.name = f"{name}-{n}"
        self.log = open(os.path.join(WORK, f"{self.name}.log"), "ab")
        self.out_path = os.path.join(WORK, f"{self.name}.out")
        self.p = subprocess.Popen(
            args, stdout=open(self.out_path, "ab"), stderr=self.log, env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        with open(os.path.join(WORK, f"{self.name}.pid"), "w") as f:
            f.write(str(self.p.pid))
        print(f"{time.strftime('%H:%M:%S')} started {self.name} (pid {self.p.pid})", flush=True)

    def wait_line(self, text: str, timeout: float = 60) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if text in open(self.out_path, errors="replace").read():
                return
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.p.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {text!r} after {timeout}s")

    def stop(self, sig=signal.SIGTERM) -> int:
        print(f"{time.strftime('%H:%M:%S')} stopping {self.name} with {sig!r}", flush=True)
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()


GRPC, THTTP, UI, API = free_port(), free_port(), free_port(), free_port()
BASE = f"http://127.0.0.1:{API}"
TBASE = f"http://127.0.0.1:{THTTP}/api/v1/namespaces/default"


def start_temporal() -> Proc:
    p = Proc(
        "temporal",
        [os.environ["WF_TEMPORAL_CLI"], "server", "start-dev", "--headless", "--ip", "127.0.0.1",
         "--port", str(GRPC), "--http-port", str(THTTP), "--ui-port", str(UI),
         "--db-filename", os.path.join(WORK, "temporal.db"), "--log-level", "error"],
    )
    end = time.time() + 60
    while http("GET", TBASE)[0] != 200:
        if time.time() > end:
            raise RuntimeError("temporal did not come up")
        time.sleep(0.2)
    return p


def start_server() -> Proc:
    p = Proc(
        "server",
        [os.environ["WF_SERVER_BIN"], "--db", os.path.join(WORK, "e2e.sqlite"),
         "--listen", f"127.0.0.1:{API}", "--fixture", os.environ["WF_FIXTURE"],
         "--runner", "temporal", "--temporal-url", f"http://127.0.0.1:{THTTP}",
         "--public-url", BASE, "--maintenance-ms", "200"],
    )
    p.wait_line("listening on")
    return p


def start_worker() -> Proc:
    p = Proc(
        "worker",
        [os.environ["WF_PYTHON"], os.environ["WF_WORKER"], "--temporal", f"127.0.0.1:{GRPC}"],
        env={"WORK_SECONDS": "0.3", "PYTHONUNBUFFERED": "1"},
    )
    p.wait_line("worker polling")
    return p


def apis(key: str):
    c = ksapi.ApiClient(ksapi.Configuration(host=BASE, access_token=key))
    return ksapi.WorkflowRunsApi(c), ksapi.WorkflowDefinitionsApi(c)


def wait_state(runs, rid, states, timeout=60.0):
    end = time.time() + timeout
    while True:
        r = runs.get_workflow_run(rid)
        if r.execution_state.value in states or time.time() > end:
            return r
        time.sleep(0.1)


def wid(rid, attempt: int) -> str:
    return f"workflow-run-{rid}-{attempt}"


def execution(rid, attempt: int):
    status, body = http("GET", f"{TBASE}/workflows/{wid(rid, attempt)}")
    return body if status == 200 else None


def execution_status(rid, attempt: int) -> str | None:
    e = execution(rid, attempt)
    return e["workflowExecutionInfo"]["status"] if e else None


def token_of(rid, attempt: int) -> str | None:
    """The callback token the attempt's execution was started with (its input)."""
    status, body = http("GET", f"{TBASE}/workflows/{wid(rid, attempt)}/history")
    if status != 200:
        return None
    attrs = body["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
    return attrs["input"][0]["callback_token"]


def all_executions() -> dict[str, int]:
    """Executions per workflow id, from one paged visibility listing of every run's executions."""
    q = quote("WorkflowId STARTS_WITH 'workflow-run-'")
    counts: dict[str, int] = {}
    token = ""
    for _ in range(100):
        url = f"{TBASE}/workflows?query={q}&pageSize=1000"
        if token:
            url += f"&nextPageToken={quote(token)}"
        for attempt in range(8):
            status, body = http("GET", url)
            if status == 200:
                break
            print(f"visibility listing: HTTP {status} {body}; retrying", flush=True)
            time.sleep(0.25 * (attempt + 1))
        else:
            raise RuntimeError("the visibility listing kept failing")
        for e in (body or {}).get("executions") or []:
            w = e["execution"]["workflowId"]
            counts[w] = counts.get(w, 0) + 1
        token = (body or {}).get("nextPageToken") or ""
        if not token:
            return counts
    raise RuntimeError("too many visibility pages")


def ts(s) -> float:
    """Seconds since the epoch of a datetime or an RFC 3339 string (nanoseconds cut to micro)."""
    if isinstance(s, datetime):
        return s.timestamp()
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".", 1)
        s = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(s + "+00:00").timestamp()


def attempt_of(rid) -> int:
    """The run's attempt (a field our run bodies carry beyond ksapi's model)."""
    status, body = http("GET", f"{BASE}/v1/workflow-runs/{rid}", key=KEYS["ada"])
    return int(body["attempt"]) if status == 200 else 0


def main() -> int:
    temporal = start_temporal()
    server = start_server()
    worker = start_worker()
    runs, defs = apis(KEYS["ada"])
    all_runs: list = []

    # ---- TEMP-1, TEMP-2: create -> start -> COMPLETED through the worker, with its output.
    r = defs.create_workflow_run(DEFS["triage"], name="temporal-happy")
    all_runs.append(r.id)
    started = runs.start_workflow_run(r.id)
    check("start answers IN_PROGRESS at once", started.execution_state.value == "IN_PROGRESS")
    done = wait_state(runs, r.id, {"COMPLETED", "FAILED"})
    check("the worker's callback completed the run", done.execution_state.value == "COMPLETED",
          f"{done.execution_state} {done.error}")
    names = [a.name for a in (done.outputs.assets if done.outputs else [])]
    check("the worker wrote its output document", "result-attempt-1.md" in names, str(names))
    end = time.time() + 20
    while execution_status(r.id, 1) != "WORKFLOW_EXECUTION_STATUS_COMPLETED" and time.time() < end:
        time.sleep(0.1)
    check("its Temporal execution completed", execution_status(r.id, 1) == "WORKFLOW_EXECUTION_STATUS_COMPLETED")

    # ---- stop while the activity works: FAILED "Stopped by user", execution CANCELED.
    s = defs.create_workflow_run(DEFS["triage"], name="temporal-stop")
    all_runs.append(s.id)
    runs.start_workflow_run(s.id, StartWorkflowRunRequest(user_message="work_seconds=60"))
    end = time.time() + 20
    while execution_status(s.id, 1) != "WORKFLOW_EXECUTION_STATUS_RUNNING" and time.time() < end:
        time.sleep(0.1)
    time.sleep(1.0)  # the activity is working
    stopped = runs.stop_workflow_run(s.id)
    check("stop: FAILED 'Stopped by user'",
          stopped.execution_state.value == "FAILED" and stopped.error == "Stopped by user")
    end = time.time() + 30
    while execution_status(s.id, 1) != "WORKFLOW_EXECUTION_STATUS_CANCELED" and time.time() < end:
        time.sleep(0.2)
    check("stop: the Temporal execution ended CANCELED",
          execution_status(s.id, 1) == "WORKFLOW_EXECUTION_STATUS_CANCELED", str(execution_status(s.id, 1)))
    after = runs.get_workflow_run(s.id)
    check("stop: no callback came after the cancel", after.execution_state.value == "FAILED"
          and after.error == "Stopped by user")

    # ---- retry: attempt 2 under another workflow id; the attempt-1 token is stale.
    old_token = token_of(s.id, 1)
    check("attempt 1 carried a callback token", bool(old_token and old_token.startswith("wrt1.")))
    retried = runs.retry_workflow_run(s.id)
    check("retry: IN_PROGRESS", retried.execution_state.value == "IN_PROGRESS")
    end = time.time() + 20
    while execution_status(s.id, 2) is None and time.time() < end:
        time.sleep(0.1)
    check("retry: attempt 2 is its own execution", execution_status(s.id, 2) is not None and wid(s.id, 2) != wid(s.id, 1))
    late_runs, _ = apis(old_token or "none")
    late = late_runs.workflow_run_callback(s.id, WorkflowRunCallbackRequest(status="COMPLETED"))
    check("late callback with the attempt-1 token: stale_attempt (RTOK-3)", late.status == "stale_attempt", str(late.status))
    check("and the run is untouched", runs.get_workflow_run(s.id).execution_state.value == "IN_PROGRESS")
    runs.stop_workflow_run(s.id)

    # ---- fault: Temporal down while 20 runs start; no API call fails; all complete once it is up.
    temporal.stop()
    batch = []
    errors = 0
    for i in range(20):
        try:
            x = defs.create_workflow_run(DEFS["triage"], name=f"temporal-down-{i}")
            runs.start_workflow_run(x.id)
            batch.append(x.id)
        except ksapi.ApiException as e:  # noqa: PERF203
            errors += 1
            print(f"api error while Temporal is down: {e.status} {e.body}")
    check("Temporal down: every API call succeeded", errors == 0, f"{errors} errors")
    time.sleep(2.0)
    temporal = start_temporal()
    worker.stop()
    worker = start_worker()
    finals = [wait_state(runs, x, {"COMPLETED", "FAILED"}, timeout=120) for x in batch]
    bad = [f.execution_state.value for f in finals if f.execution_state.value != "COMPLETED"]
    check("Temporal back: all 20 runs completed", not bad, str(bad))
    all_runs += batch

    # ---- fault: workflow-server SIGKILLed while dispatches are queued; restarted: all complete.
    temporal.stop()
    queued = []
    for i in range(10):
        x = defs.create_workflow_run(DEFS["triage"], name=f"temporal-kill-{i}")
        runs.start_workflow_run(x.id)
        queued.append(x.id)
    server.stop(signal.SIGKILL)
    temporal = start_temporal()
    worker.stop()
    worker = start_worker()
    server = start_server()
    finals = [wait_state(runs, x, {"COMPLETED", "FAILED"}, timeout=120) for x in queued]
    bad = [f.execution_state.value for f in finals if f.execution_state.value != "COMPLETED"]
    check("after SIGKILL and restart: all 10 runs completed", not bad, str(bad))
    all_runs += queued

    # ---- delivery latency: commit (started_at) -> Temporal's start of the execution. The
    # worker is stopped: this measures the dispatch path, not the worker's load on 2 cores.
    worker.stop()
    lat_runs = []
    for i in range(LATENCY_RUNS):
        x = defs.create_workflow_run(DEFS["triage"], name=f"temporal-latency-{i}")
        st = runs.start_workflow_run(x.id)
        lat_runs.append((x.id, ts(st.started_at)))
    latencies = []
    for rid, committed in lat_runs:
        end = time.time() + 60
        e = execution(rid, 1)
        while e is None and time.time() < end:
            time.sleep(0.05)
            e = execution(rid, 1)
        if e:
            latencies.append((ts(e["workflowExecutionInfo"]["startTime"]) - committed) * 1000)
    check(f"latency: all {LATENCY_RUNS} dispatches reached Temporal", len(latencies) == LATENCY_RUNS)
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        print(f"delivery latency commit -> Temporal start over {len(latencies)} runs: "
              f"p50 {statistics.median(latencies):.1f} ms, p99 {q[98]:.1f} ms, max {max(latencies):.1f} ms")
    all_runs += [rid for rid, _ in lat_runs]

    # ---- DISP-2: exactly one execution per (run, attempt).
    time.sleep(2.0)  # Temporal's visibility catches up
    listed = all_executions()
    counts = {}
    for rid in all_runs:
        for a in range(1, attempt_of(rid) + 1):
            counts[(str(rid), a)] = listed.get(wid(rid, a), 0)
    wrong = {k: v for k, v in counts.items() if v != 1}
    check(f"DISP-2: one execution per (run, attempt) over {len(counts)} attempts", not wrong, str(list(wrong.items())[:5]))
    print(f"executions per attempt after the fault steps: {sorted(set(counts.values()))}")

    check("workflow-server shuts down cleanly on SIGTERM", server.stop() == 0)
    temporal.stop()
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check("the e2e ran to its end", False, repr(e))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
