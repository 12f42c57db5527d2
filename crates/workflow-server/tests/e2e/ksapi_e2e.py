#!/usr/bin/env python3
"""End-to-end check of workflow-server with the real ksapi 3.18.2 client.

Drives create, get, update, start, stop, callback, retry, clone, approval, delete and list,
then the rest of the run surface of SPEC section 10 (`surface()`: PATCH with nulls and arming,
UPDATE-6/7; resume, RESUME-1; every list filter and order, LIST-2; the summary, SUM-1;
`definitions()`: DEF-1..5 and SCHED-1's fields) against a server with `--runner none` (WF_BASE_URL; this script posts the runner's callbacks)
and the local runner against a second server with `--runner local` (WF_LOCAL_URL). Checks
statuses, error codes, headers, and that every body loads with the client's models
(`Model.from_json`). Prints `N passed, M failed` and exits non-zero on any failure.

Usage: WF_BASE_URL=http://127.0.0.1:PORT WF_LOCAL_URL=http://127.0.0.1:PORT2 \
       WF_FIXTURE=fixture.json python ksapi_e2e.py
"""

import json
import os
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone
import urllib.error
import urllib.request

import ksapi
from ksapi.models import (
    CloneWorkflowRunRequest,
    CreateWorkflowDefinitionRequest,
    InstantiateWorkflowTemplateRequest,
    PaginatedResponseWorkflowDefinitionResponse,
    ScheduleCadence,
    UpdateWorkflowDefinitionRequest,
    WorkflowDefinitionOrder,
    PaginatedResponseWorkflowRunResponse,
    PathPartApprovalState,
    SetWorkflowRunApprovalRequest,
    SortDirection,
    StartWorkflowRunRequest,
    UpdateWorkflowRunRequest,
    WorkflowCallbackResponse,
    WorkflowDefinitionResponse,
    WorkflowExecutionState,
    WorkflowRunCallbackRequest,
    WorkflowRunOrder,
    WorkflowRunResponse,
    WorkflowRunSummaryResponse,
)

BASE = os.environ["WF_BASE_URL"].rstrip("/")
LOCAL = os.environ.get("WF_LOCAL_URL", "").rstrip("/")
FIXTURE = json.load(open(os.environ["WF_FIXTURE"]))

KEYS = {u["first_name"].lower(): u["api_key"] for u in FIXTURE["users"]}
DEFS = {d["name"]: d["id"] for d in FIXTURE["definitions"]}
PARTS = {p["name"]: p["id"] for p in FIXTURE["path_parts"]}

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def client(base, key, assumed=False):
    c = ksapi.ApiClient(ksapi.Configuration(host=base, access_token=key))
    if assumed:
        # How a runner acts as the run's triggerer (SPEC section 1): its key + this header.
        c.set_default_header("x-ks-assumed", "true")
    return ksapi.WorkflowRunsApi(c), ksapi.WorkflowDefinitionsApi(c)


def loads(model, raw, name):
    """Every body must load with the client's from_json of its model."""
    try:
        obj = model.from_json(raw.decode() if isinstance(raw, bytes) else raw)
        check(f"{name}: body loads as {model.__name__}", obj is not None)
        return obj
    except Exception as e:  # noqa: BLE001
        check(f"{name}: body loads as {model.__name__}", False, repr(e))
        return None


def call(name, fn, /, *args, status, model=None, **kw):
    """Call a ksapi `*_with_http_info` method; check the status; re-load the raw body."""
    try:
        r = fn(*args, **kw)
    except ksapi.ApiException as e:
        check(f"{name}: status {status}", False, f"got {e.status} {e.body}")
        return None, None
    check(f"{name}: status {status}", r.status_code == status, f"got {r.status_code}")
    if model is not None:
        loads(model, r.raw_data, name)
    return r.data, r.headers


def expect_error(name, fn, /, *args, status, code, **kw):
    try:
        fn(*args, **kw)
        check(f"{name}: refused {status} {code}", False, "it succeeded")
    except ksapi.ApiException as e:
        body = {}
        try:
            body = json.loads(e.body)
        except Exception:  # noqa: BLE001
            pass
        ok = (
            e.status == status
            and body.get("code") == code
            and isinstance(body.get("detail"), str)
            and body.get("request_id")
            and (e.headers or {}).get("x-request-id") == body.get("request_id")
        )
        check(f"{name}: refused {status} {code}", ok, f"got {e.status} {e.body}")


def raw(method, base, path, key=None, body=None, headers=None):
    h = dict(headers or {})
    if key:
        h["Authorization"] = f"Bearer {key}"
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    if data is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def expect_raw_error(name, status, code, *args, **kw):
    st, hd, body = raw(*args, **kw)
    try:
        b = json.loads(body)
    except Exception:  # noqa: BLE001
        b = {}
    ok = st == status and b.get("code") == code and b.get("request_id") == hd.get("x-request-id")
    check(f"{name}: {status} {code}", ok, f"got {st} {body[:200]!r}")
    return b


def wait_state(runs, run_id, states, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = runs.get_workflow_run(run_id)
        if run.execution_state.value in states:
            return run
        time.sleep(0.1)
    return runs.get_workflow_run(run_id)


def main():
    ada_runs, ada_defs = client(BASE, KEYS["ada"])
    runner_runs, _ = client(BASE, KEYS["ada"], assumed=True)
    barbara_runs, barbara_defs = client(BASE, KEYS["barbara"])
    linus_runs, linus_defs = client(BASE, KEYS["linus"])
    grace_runs, _ = client(BASE, KEYS["grace"])
    summarise = DEFS["summarise"]

    # ---- definitions
    d, h = call(
        "create definition",
        ada_defs.create_workflow_definition_with_http_info,
        CreateWorkflowDefinitionRequest(
            name="e2e-flow",
            parent_path_part_id=PARTS["eng"],
            approval_required=True,
            max_run_duration_seconds=600,
        ),
        status=201,
        model=WorkflowDefinitionResponse,
    )
    check("create definition: Location", h and h.get("location", "").endswith(f"/{d.id}"))
    d2, _ = call(
        "get definition",
        ada_defs.get_workflow_definition_with_http_info,
        d.id,
        status=200,
        model=WorkflowDefinitionResponse,
    )
    check("get definition: permissions", d2 and d2.permissions and d2.permissions.can_write)
    expect_error(
        "get definition of another tenant",
        client(BASE, KEYS["hank"])[1].get_workflow_definition,
        summarise,
        status=404,
        code="not_found",
    )

    # ---- create (multipart, as ksapi sends it)
    scope = [PARTS["spec.md"], PARTS["crm"]]
    run, h = call(
        "create run",
        ada_defs.create_workflow_run_with_http_info,
        summarise,
        input_scope=json.dumps(scope),
        name="e2e-first",
        status=201,
        model=WorkflowRunResponse,
    )
    rid = str(run.id)
    check("create run: NOT_STARTED", run.execution_state.value == "NOT_STARTED")
    check("create run: Location (HTTP-2)", h.get("location") == f"/v1/workflow-runs/{rid}")
    check("create run: triggered_by", run.triggered_by.first_name == "Ada")
    check("create run: inputs assets", len(run.inputs.assets) == 2)
    again, _ = call(
        "create run idempotent",
        ada_defs.create_workflow_run_with_http_info,
        summarise,
        idempotency_key="e2e-key-1",
        status=201,
        model=WorkflowRunResponse,
    )
    again2 = ada_defs.create_workflow_run(summarise, idempotency_key="e2e-key-1")
    check("create run idempotent: same run (CREATE-6)", again.id == again2.id)
    expect_error(
        "create run duplicate name",
        ada_defs.create_workflow_run,
        summarise,
        name="e2e-first",
        status=409,
        code="conflict",
    )
    expect_error(
        "create run on an inactive definition",
        ada_defs.create_workflow_run,
        DEFS["retired"],
        status=409,
        code="conflict",
    )
    expect_error(
        "create run: unknown definition",
        ada_defs.create_workflow_run,
        "00000000-0000-4000-8000-000000000000",
        status=404,
        code="not_found",
    )

    # ---- get, update
    got, _ = call("get run", ada_runs.get_workflow_run_with_http_info, rid, status=200, model=WorkflowRunResponse)
    check("get run: permissions", got.permissions is not None and got.permissions.can_delete)
    upd, _ = call(
        "update run",
        ada_runs.update_workflow_run_with_http_info,
        rid,
        UpdateWorkflowRunRequest(name="e2e-renamed", input_scope=[PARTS["spec.md"]]),
        status=200,
        model=WorkflowRunResponse,
    )
    check("update run: renamed", upd.name == "e2e-renamed" and upd.materialized_path.endswith("/e2e-renamed"))
    expect_error(
        "update run: empty PATCH",
        ada_runs.update_workflow_run,
        rid,
        UpdateWorkflowRunRequest(),
        status=422,
        code="unprocessable_entity",
    )
    expect_error(
        "update run by a reader",
        barbara_runs.update_workflow_run,
        rid,
        UpdateWorkflowRunRequest(name="x"),
        status=403,
        code="forbidden",
    )

    # ---- start, callback, approval
    started, h = call(
        "start run",
        ada_runs.start_workflow_run_with_http_info,
        rid,
        StartWorkflowRunRequest(user_message="be brief"),
        status=202,
        model=WorkflowRunResponse,
    )
    check("start: IN_PROGRESS with a snapshot", started.execution_state.value == "IN_PROGRESS" and started.run_snapshot is not None)
    check("start: Location (HTTP-2)", h.get("location") == f"/v1/workflow-runs/{rid}")
    check("start: user message pinned", started.run_snapshot.user_message == "be brief")
    st, _, body = raw("GET", BASE, f"/v1/workflow-runs/{rid}", KEYS["ada"])
    attempt = json.loads(body)["attempt"]
    check("start: attempt 1", attempt == 1)
    call("start again is idempotent", ada_runs.start_workflow_run_with_http_info, rid, status=202, model=WorkflowRunResponse)
    expect_error("update a started run", ada_runs.update_workflow_run, rid, UpdateWorkflowRunRequest(name="z"), status=409, code="conflict")
    expect_error("delete an IN_PROGRESS run", ada_runs.delete_workflow_run, rid, status=409, code="conflict")
    st, _, _ = raw("GET", BASE, f"/v1/workflow-runs/{rid}/thread-gate", KEYS["ada"])
    check("thread gate: run_busy while IN_PROGRESS (THREAD-1)", st == 409)
    cb, _ = call(
        "callback COMPLETED",
        runner_runs.workflow_run_callback_with_http_info,
        rid,
        WorkflowRunCallbackRequest(status="COMPLETED"),
        status=200,
        model=WorkflowCallbackResponse,
    )
    check("callback: updated", cb.status == "updated")
    cb = runner_runs.workflow_run_callback(rid, WorkflowRunCallbackRequest(status="FAILED", error="late"))
    check("callback again: already_terminal (CB-3)", cb.status == "already_terminal")
    done = ada_runs.get_workflow_run(rid)
    check("completed: approval pending (CB-2)", done.execution_state.value == "COMPLETED" and done.approval_state.value == "pending")
    expect_error(
        "approval by an assumed actor",
        runner_runs.set_workflow_run_approval,
        rid,
        SetWorkflowRunApprovalRequest(state="approved"),
        status=403,
        code="forbidden",
    )
    appr, _ = call(
        "approval",
        ada_runs.set_workflow_run_approval_with_http_info,
        rid,
        SetWorkflowRunApprovalRequest(state="approved", reason="looks good"),
        status=200,
        model=WorkflowRunResponse,
    )
    check("approval: approved", appr.approval_state.value == "approved")
    expect_error("start a COMPLETED run", ada_runs.start_workflow_run, rid, status=409, code="conflict")
    expect_error("retry a COMPLETED run", ada_runs.retry_workflow_run, rid, status=409, code="conflict")

    # ---- clone
    cl, h = call(
        "clone",
        linus_runs.clone_workflow_run_with_http_info,
        rid,
        CloneWorkflowRunRequest(include_inputs=True),
        status=201,
        model=WorkflowRunResponse,
    )
    check("clone: new NOT_STARTED run triggered by the caller", cl.execution_state.value == "NOT_STARTED" and cl.triggered_by.first_name == "Linus" and str(cl.id) != rid)
    check("clone: Location", h.get("location") == f"/v1/workflow-runs/{cl.id}")
    check("clone: pinned inputs", len(cl.inputs.assets) >= 1)

    # ---- stop, late callback, retry, stale callback
    r2 = ada_defs.create_workflow_run(DEFS["triage"], name="e2e-second")
    ada_runs.start_workflow_run(r2.id)
    expect_error("stop by a reader", barbara_runs.stop_workflow_run, r2.id, status=403, code="forbidden")
    stopped, _ = call("stop", grace_runs.stop_workflow_run_with_http_info, r2.id, status=200, model=WorkflowRunResponse)
    check("stop: FAILED, Stopped by user", stopped.execution_state.value == "FAILED" and stopped.error == "Stopped by user")
    call("stop again is idempotent", ada_runs.stop_workflow_run_with_http_info, r2.id, status=200, model=WorkflowRunResponse)
    cb = runner_runs.workflow_run_callback(r2.id, WorkflowRunCallbackRequest(status="COMPLETED"))
    check("late callback after stop: already_terminal", cb.status == "already_terminal")
    rt, h = call("retry", ada_runs.retry_workflow_run_with_http_info, r2.id, status=202, model=WorkflowRunResponse)
    check("retry: IN_PROGRESS, error cleared", rt.execution_state.value == "IN_PROGRESS" and rt.error is None)
    check("retry: Location", h.get("location") == f"/v1/workflow-runs/{r2.id}")
    st, _, body = raw(
        "POST", BASE, f"/v1/workflow-runs/{r2.id}/callback", KEYS["ada"],
        {"status": "COMPLETED", "attempt": 1}, {"x-ks-assumed": "true"},
    )
    check("callback of attempt 1 after retry: stale_attempt (CB-4)", st == 200 and json.loads(body)["status"] == "stale_attempt")
    loads(WorkflowCallbackResponse, body, "stale callback")
    st, _, body = raw(
        "POST", BASE, f"/v1/workflow-runs/{r2.id}/callback", KEYS["ada"],
        {"status": "FAILED", "error": "boom", "attempt": 2}, {"x-ks-assumed": "true"},
    )
    check("callback FAILED of attempt 2: updated", st == 200 and json.loads(body)["status"] == "updated")
    failed_run = ada_runs.get_workflow_run(r2.id)
    check("failed: error stored", failed_run.execution_state.value == "FAILED" and failed_run.error == "boom")
    expect_error("callback on a never started run", runner_runs.workflow_run_callback, again.id, WorkflowRunCallbackRequest(status="COMPLETED"), status=409, code="conflict")

    # ---- uploads and ingestion (the server's upload endpoint; SYNC-*)
    r3 = ada_defs.create_workflow_run(DEFS["triage"], files=[("notes.txt", b"hello")], name="e2e-upload")
    check("create with a file: PENDING", r3.execution_state.value == "PENDING" and len(r3.inputs.assets) == 1)
    expect_error("start while ingesting", ada_runs.start_workflow_run, r3.id, status=409, code="conflict")
    st, _, body = raw("POST", BASE, f"/v1/workflow-runs/{r3.id}/inputs", KEYS["ada"], {"name": "more.txt"})
    up = json.loads(body)
    check("upload endpoint: 201", st == 201 and "version_path_part_id" in up)
    loads(WorkflowRunResponse, json.dumps(up.get("run")), "upload endpoint run")
    st, _, body = raw("PUT", BASE, f"/v1/document-versions/{up['version_path_part_id']}/ingestion", KEYS["grace"], {"status": "completed"})
    check("ingestion endpoint: 200", st == 200)
    loads(WorkflowRunResponse, body, "ingestion endpoint")
    check("still PENDING while another upload ingests", json.loads(body)["execution_state"] == "PENDING")
    expect_raw_error("ingestion by a plain user", 403, "forbidden", "PUT", BASE, f"/v1/document-versions/{up['version_path_part_id']}/ingestion", KEYS["barbara"], {"status": "completed"})

    # ---- visibility and tenancy
    got = barbara_runs.get_workflow_run(rid)
    check("reader can get (VIS-1)", str(got.id) == rid and got.permissions and not got.permissions.can_write)
    expect_error("other tenant gets not_found (VIS-1)", client(BASE, KEYS["hank"])[0].get_workflow_run, rid, status=404, code="not_found")
    expect_error("unknown key", client(BASE, "sk-nope")[0].get_workflow_run, rid, status=401, code="unauthorized")

    # ---- list
    page, _ = call(
        "list tenant runs",
        ada_runs.list_workflow_runs_for_tenant_with_http_info,
        limit=2,
        status=200,
        model=PaginatedResponseWorkflowRunResponse,
    )
    check("list: page of 2 with a total", len(page.items) == 2 and page.total >= 5 and page.limit == 2)
    page, _ = call(
        "list tenant runs filtered",
        ada_runs.list_workflow_runs_for_tenant_with_http_info,
        state=["FAILED"],
        mine=True,
        status=200,
        model=PaginatedResponseWorkflowRunResponse,
    )
    check("list: state filter", page.total >= 1 and all(r.execution_state.value == "FAILED" for r in page.items))
    page, _ = call(
        "list definition runs",
        ada_defs.list_workflow_runs_with_http_info,
        summarise,
        limit=100,
        status=200,
        model=PaginatedResponseWorkflowRunResponse,
    )
    check("list definition runs: only that definition", all(str(r.workflow_definition_id) == summarise for r in page.items) and page.total >= 2)
    # A run awaiting approval, so that the approval_state filter has something to find.
    pend = ada_defs.create_workflow_run(summarise, name="e2e-pending")
    ada_runs.start_workflow_run(pend.id)
    runner_runs.workflow_run_callback(pend.id, WorkflowRunCallbackRequest(status="COMPLETED"))
    page, _ = call(
        "list tenant runs by approval state",
        ada_runs.list_workflow_runs_for_tenant_with_http_info,
        approval_state=["pending"],
        sort_by="STARTED_AT",
        sort_dir="DESC",
        status=200,
        model=PaginatedResponseWorkflowRunResponse,
    )
    check("list: approval_state filter", any(str(r.id) == str(pend.id) for r in page.items) and all(r.approval_state.value == "pending" for r in page.items))
    expect_raw_error("list with limit 101", 422, "unprocessable_entity", "GET", BASE, "/v1/workflow-runs?limit=101", KEYS["ada"])

    # ---- delete
    expect_error("delete by a reader", barbara_runs.delete_workflow_run, rid, status=403, code="forbidden")
    _, _ = call("delete", ada_runs.delete_workflow_run_with_http_info, rid, status=204)
    expect_error("get after delete", ada_runs.get_workflow_run, rid, status=404, code="not_found")

    # ---- malformed input never 500 (HTTP-3, section 6)
    expect_raw_error("bad UUID in the path", 422, "unprocessable_entity", "GET", BASE, "/v1/workflow-runs/not-a-uuid", KEYS["ada"])
    expect_raw_error("bad JSON", 422, "unprocessable_entity", "PATCH", BASE, f"/v1/workflow-runs/{again.id}", KEYS["ada"], b"{nope")
    expect_raw_error("missing field", 422, "unprocessable_entity", "POST", BASE, f"/v1/workflow-runs/{again.id}/callback", KEYS["ada"], {"error": "x"})
    expect_raw_error("body too large", 413, "payload_too_large", "PATCH", BASE, f"/v1/workflow-runs/{again.id}", KEYS["ada"], b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    expect_raw_error("no credentials", 401, "unauthorized", "GET", BASE, f"/v1/workflow-runs/{again.id}")
    st, hd, _ = raw("GET", BASE, f"/v1/workflow-runs/{again.id}", KEYS["ada"], headers={"x-request-id": "e2e-req-42"})
    check("x-request-id echoed", st == 200 and hd.get("x-request-id") == "e2e-req-42")
    st, _, body = raw("GET", BASE, "/openapi.json")
    doc = json.loads(body)
    check("openapi.json: OpenAPI 3 with the runs paths", st == 200 and doc.get("openapi", "").startswith("3") and "/v1/workflow-runs/{run_id}/start" in doc.get("paths", {}))

    surface(ada_runs, ada_defs, runner_runs, barbara_runs, linus_runs, linus_defs, grace_runs)
    definitions(ada_runs, ada_defs, runner_runs, barbara_defs, linus_defs)

    # ---- the local runner (second server)
    if LOCAL:
        lr, ld = client(LOCAL, KEYS["ada"])
        r = ld.create_workflow_run(summarise, input_scope=json.dumps([PARTS["spec.md"]]))
        lr.start_workflow_run(r.id)
        r = wait_state(lr, r.id, {"COMPLETED", "FAILED"})
        check("local runner: COMPLETED", r.execution_state.value == "COMPLETED")
        check("local runner: one output document", len(r.outputs.assets) == 1 and r.outputs.assets[0].part_type.value == "DOCUMENT")
        check("local runner: approval pending", r.approval_state.value == "pending")
        r = lr.set_workflow_run_approval(r.id, SetWorkflowRunApprovalRequest(state="approved"))
        # `all` over no outputs is vacuously true: require the output first.
        check("local runner: approved, with outputs", r.approval_state.value == "approved" and len(r.outputs.assets) >= 1)
        check("local runner: its outputs approved", len(r.outputs.assets) >= 1 and all(a.approval_state.value == "approved" for a in r.outputs.assets))
        r = ld.create_workflow_run(DEFS["triage"])
        lr.start_workflow_run(r.id)
        lr.stop_workflow_run(r.id)
        time.sleep(float(os.environ.get("WF_LOCAL_DELAY_S", "0.5")) + 1.0)
        r = lr.get_workflow_run(r.id)
        check("local runner: a stopped attempt's result is ignored", r.execution_state.value == "FAILED" and r.error == "Stopped by user" and len(r.outputs.assets) == 0)
        r = lr.retry_workflow_run(r.id)
        r = wait_state(lr, r.id, {"COMPLETED", "FAILED"})
        check("local runner: retry completes attempt 2", r.execution_state.value == "COMPLETED")


def upload(run_id, name):
    """An upload into the run's `inputs/` (the server's host endpoint): its version id."""
    st, _, body = raw("POST", BASE, f"/v1/workflow-runs/{run_id}/inputs", KEYS["ada"], {"name": name})
    check(f"upload {name}: 201", st == 201, f"got {st} {body[:200]!r}")
    return json.loads(body)["version_path_part_id"]


def ingested(version):
    """The host reports the upload's ingestion `completed`: the run as it now stands."""
    st, _, body = raw("PUT", BASE, f"/v1/document-versions/{version}/ingestion", KEYS["grace"], {"status": "completed"})
    check("ingestion completed: 200", st == 200, f"got {st} {body[:200]!r}")
    return loads(WorkflowRunResponse, body, "ingestion")


def attempt_of(run_id):
    st, _, body = raw("GET", BASE, f"/v1/workflow-runs/{run_id}", KEYS["ada"])
    return json.loads(body).get("attempt") if st == 200 else None


def surface(ada_runs, ada_defs, runner_runs, barbara_runs, linus_runs, linus_defs, grace_runs):
    """SPEC section 10 through the real client: UPDATE-6/7, RESUME-1, LIST-2, SUM-1.

    The runs are made on a fresh definition, so that every list and summary answer can be
    compared with exactly what this function created: in order `u` (Ada, NOT_STARTED), `p`
    (Ada, armed while PENDING, auto-started on ingestion, COMPLETED, approval pending), `g` (Ada,
    an ingested draft armed into IN_PROGRESS), `r` (Ada, FAILED, resumed, FAILED again), `q`
    (Ada, PENDING), `c` (Linus, COMPLETED and approved).
    """
    sd = ada_defs.create_workflow_definition(
        CreateWorkflowDefinitionRequest(
            name="e2e-surface",
            parent_path_part_id=PARTS["eng"],
            approval_required=True,
            max_run_duration_seconds=600,
        )
    )
    sid = str(sd.id)
    ids = {}

    # ---- UPDATE-6: ksapi sends the fields left None as `null`, which means absent.
    u = ada_defs.create_workflow_run(sid, name="e2e-s-update")
    ids["u"] = str(u.id)
    req = UpdateWorkflowRunRequest(input_scope=[PARTS["spec.md"], PARTS["crm"]], name=None)
    check("UPDATE-6: ksapi sends name: null", json.loads(req.to_json()).get("name", "absent") is None)
    upd, _ = call(
        "UPDATE-6 update with name=None",
        ada_runs.update_workflow_run_with_http_info,
        u.id,
        req,
        status=200,
        model=WorkflowRunResponse,
    )
    check(
        "UPDATE-6: the scope replaced, the name kept",
        upd is not None
        and upd.name == "e2e-s-update"
        and sorted(a.name for a in upd.inputs.assets) == ["crm", "spec.md"],
        upd and f"{upd.name} {[a.name for a in upd.inputs.assets]}",
    )
    expect_error(
        "UPDATE-6: every field null",
        ada_runs.update_workflow_run,
        u.id,
        UpdateWorkflowRunRequest(input_scope=None, name=None, auto_start=None, user_message=None),
        status=422,
        code="unprocessable_entity",
    )

    # ---- UPDATE-7: arm a PENDING run; a rename stays NOT_STARTED only; ingestion starts it.
    p = ada_defs.create_workflow_run(sid, name="e2e-s-armed")
    ids["p"] = str(p.id)
    p_version = upload(p.id, "brief.txt")
    armed, _ = call(
        "UPDATE-7 arm a PENDING run",
        ada_runs.update_workflow_run_with_http_info,
        p.id,
        UpdateWorkflowRunRequest(auto_start=True, user_message="auto go"),
        status=200,
        model=WorkflowRunResponse,
    )
    check(
        "UPDATE-7: armed, still PENDING",
        armed is not None and armed.execution_state.value == "PENDING" and armed.auto_start is True,
        armed and f"{armed.execution_state} auto_start={armed.auto_start}",
    )
    expect_error(
        "UPDATE-7: rename a PENDING run",
        ada_runs.update_workflow_run,
        p.id,
        UpdateWorkflowRunRequest(name="e2e-s-nope"),
        status=409,
        code="conflict",
    )
    after = ingested(p_version)
    check(
        "UPDATE-7/SYNC-2: the armed run starts on ingestion, with its message",
        after is not None
        and after.execution_state.value == "IN_PROGRESS"
        and after.run_snapshot is not None
        and after.run_snapshot.user_message == "auto go",
        after and f"{after.execution_state}",
    )
    cb = runner_runs.workflow_run_callback(p.id, WorkflowRunCallbackRequest(status="COMPLETED"))
    check("armed run completes", cb.status == "updated")

    # ---- UPDATE-7: arming an ingested draft starts it at once.
    g = ada_defs.create_workflow_run(sid, name="e2e-s-draft")
    ids["g"] = str(g.id)
    draft = ingested(upload(g.id, "draft.txt"))
    check("ingested draft: NOT_STARTED", draft is not None and draft.execution_state.value == "NOT_STARTED")
    go, _ = call(
        "UPDATE-7 arm an ingested draft",
        ada_runs.update_workflow_run_with_http_info,
        g.id,
        UpdateWorkflowRunRequest(auto_start=True),
        status=200,
        model=WorkflowRunResponse,
    )
    check(
        "UPDATE-7: the armed draft answers IN_PROGRESS",
        go is not None and go.execution_state.value == "IN_PROGRESS" and go.run_snapshot is not None,
        go and f"{go.execution_state}",
    )
    check("UPDATE-7: attempt 1", attempt_of(g.id) == 1)

    # ---- RESUME-1
    r = ada_defs.create_workflow_run(sid, name="e2e-s-resume")
    ids["r"] = str(r.id)
    expect_error("RESUME-1: a NOT_STARTED run", ada_runs.resume_workflow_run, r.id, status=409, code="conflict")
    ada_runs.start_workflow_run(r.id)
    runner_runs.workflow_run_callback(r.id, WorkflowRunCallbackRequest(status="FAILED", error="crashed"))
    before = attempt_of(r.id)
    expect_error("RESUME-1: by a reader", barbara_runs.resume_workflow_run, r.id, status=403, code="forbidden")
    res, h = call(
        "RESUME-1 resume a failed run",
        ada_runs.resume_workflow_run_with_http_info,
        r.id,
        status=202,
        model=WorkflowRunResponse,
    )
    check(
        "RESUME-1: IN_PROGRESS, error cleared",
        res is not None and res.execution_state.value == "IN_PROGRESS" and res.error is None,
        res and f"{res.execution_state} {res.error}",
    )
    check("RESUME-1: Location", h is not None and h.get("location") == f"/v1/workflow-runs/{r.id}")
    check("RESUME-1: attempt + 1", before == 1 and attempt_of(r.id) == 2, f"{before} -> {attempt_of(r.id)}")
    st, _, body = raw("GET", BASE, f"/v1/workflow-runs/{r.id}/history", KEYS["ada"])
    events = [i["event"] for i in json.loads(body).get("items", [])] if st == 200 else []
    check("RESUME-1: history says resumed", events[-1:] == ["resumed"], f"{st} {events}")
    expect_error("RESUME-1: an IN_PROGRESS run", ada_runs.resume_workflow_run, r.id, status=409, code="conflict")
    st, _, body = raw(
        "POST", BASE, f"/v1/workflow-runs/{r.id}/callback", KEYS["ada"],
        {"status": "FAILED", "error": "again", "attempt": 2}, {"x-ks-assumed": "true"},
    )
    check("resumed attempt fails: updated", st == 200 and json.loads(body)["status"] == "updated")

    # ---- the rest of the set: a PENDING run and Linus's approved run
    q = ada_defs.create_workflow_run(sid, name="e2e-s-pending")
    ids["q"] = str(q.id)
    upload(q.id, "slow.txt")
    c = linus_defs.create_workflow_run(sid, name="e2e-s-linus")
    ids["c"] = str(c.id)
    linus_runs.start_workflow_run(c.id)
    client(BASE, KEYS["linus"], assumed=True)[0].workflow_run_callback(
        c.id, WorkflowRunCallbackRequest(status="COMPLETED")
    )
    appr = linus_runs.set_workflow_run_approval(c.id, SetWorkflowRunApprovalRequest(state="approved"))
    check("Linus approves his run", appr.approval_state.value == "approved")

    runs = {k: ada_runs.get_workflow_run(v) for k, v in ids.items()}
    want = {"u": "NOT_STARTED", "p": "COMPLETED", "g": "IN_PROGRESS", "r": "FAILED", "q": "PENDING", "c": "COMPLETED"}
    got = {k: v.execution_state.value for k, v in runs.items()}
    check("surface runs: the states planned", got == want, f"{got}")
    order = ["u", "p", "g", "r", "q", "c"]
    t0 = runs["u"].created_at  # an aware datetime, as the client loaded it
    t_c = runs["c"].created_at
    mine = {ids[k] for k in order}

    def tenant(name, key_runs=ada_runs, **kw):
        page, _ = call(
            f"LIST-2 {name}",
            key_runs.list_workflow_runs_for_tenant_with_http_info,
            limit=100,
            status=200,
            model=PaginatedResponseWorkflowRunResponse,
            **kw,
        )
        if page is None:
            return []
        check(f"LIST-2 {name}: total matches the page", page.total == len(page.items), f"{page.total} vs {len(page.items)}")
        return [str(x.id) for x in page.items]

    # The window of this section (ksapi sends `...+0000`), in both directions.
    got = tenant("created_after", created_after=t0)
    check("LIST-2 created_after: exactly the section's runs", set(got) == mine, f"{len(got)} runs")
    got = tenant("created_before", created_before=t0)
    check("LIST-2 created_before: none of them", not (set(got) & mine) and len(got) > 0, f"{len(got)} runs")
    got = tenant("created window", created_after=t0, created_before=t_c)
    check("LIST-2 created window: all but the last", set(got) == mine - {ids["c"]})
    # Several states.
    got = tenant(
        "several states",
        state=[WorkflowExecutionState.IN_PROGRESS, WorkflowExecutionState.PENDING],
        created_after=t0,
    )
    check("LIST-2 state=[IN_PROGRESS, PENDING]", set(got) == {ids["g"], ids["q"]}, f"{got}")
    got = tenant("states COMPLETED+FAILED", state=[WorkflowExecutionState.COMPLETED, WorkflowExecutionState.FAILED], definition_id=sid)
    check("LIST-2 state=[COMPLETED, FAILED]", set(got) == {ids["p"], ids["r"], ids["c"]}, f"{got}")
    # Orders.
    got = tenant("sort_dir ASC", sort_by=WorkflowRunOrder.CREATED_AT, sort_dir=SortDirection.ASC, created_after=t0)
    check("LIST-2 CREATED_AT ASC: creation order", got == [ids[k] for k in order], f"{got}")
    got = tenant("sort_dir DESC", sort_by=WorkflowRunOrder.CREATED_AT, sort_dir=SortDirection.DESC, created_after=t0)
    check("LIST-2 CREATED_AT DESC: reverse order", got == [ids[k] for k in reversed(order)], f"{got}")
    got = tenant("STARTED_AT ASC", sort_by=WorkflowRunOrder.STARTED_AT, sort_dir=SortDirection.ASC, created_after=t0)
    check(
        "LIST-2 STARTED_AT ASC: never-started runs last",
        got[:4] == [ids[k] for k in ["p", "g", "r", "c"]] and set(got[4:]) == {ids["u"], ids["q"]},
        f"{got}",
    )
    # owner_id of another user: a reader gets Linus's runs, never 403; mine overrides it.
    linus_id = next(u["id"] for u in FIXTURE["users"] if u["first_name"] == "Linus")
    ada_id = next(u["id"] for u in FIXTURE["users"] if u["first_name"] == "Ada")
    got = tenant("owner_id by a reader", key_runs=barbara_runs, owner_id=linus_id, created_after=t0)
    check("LIST-2 owner_id: Linus's run only", got == [ids["c"]], f"{got}")
    got = tenant("owner_id + mine", key_runs=linus_runs, owner_id=ada_id, mine=True, created_after=t0)
    check("LIST-2 mine overrides owner_id", got == [ids["c"]], f"{got}")
    # The approval worklist: approvable_by_me + approval_state=[pending].
    worklist = dict(approvable_by_me=True, approval_state=[PathPartApprovalState.PENDING], definition_id=sid)
    got = tenant("approval worklist (read-write grant)", key_runs=linus_runs, **worklist)
    check("LIST-2 approvable_by_me: Linus may approve p", got == [ids["p"]], f"{got}")
    got = tenant("approval worklist (owner)", **worklist)
    check("LIST-2 approvable_by_me: the owner may approve p", got == [ids["p"]], f"{got}")
    got = tenant("approval worklist (reader)", key_runs=barbara_runs, **worklist)
    check("LIST-2 approvable_by_me: a reader approves nothing", got == [], f"{got}")
    expect_raw_error("LIST-2 a bad date", 422, "unprocessable_entity", "GET", BASE, "/v1/workflow-runs?created_after=last-week", KEYS["ada"])

    # The definition's list, with sort_dir.
    for d in (SortDirection.ASC, SortDirection.DESC):
        page, _ = call(
            f"LIST-2 definition runs sort_dir={d.value}",
            ada_defs.list_workflow_runs_with_http_info,
            sid,
            sort_by=WorkflowRunOrder.CREATED_AT,
            sort_dir=d,
            limit=100,
            status=200,
            model=PaginatedResponseWorkflowRunResponse,
        )
        want_ids = [ids[k] for k in (order if d == SortDirection.ASC else reversed(order))]
        got = [str(x.id) for x in page.items] if page else []
        check(f"LIST-2 definition runs {d.value}: its runs in order", got == want_ids and page.total == 6, f"{got}")
    page = ada_defs.list_workflow_runs(sid, created_after=t_c)
    check("LIST-2 definition runs created_after", [str(x.id) for x in page.items] == [ids["c"]])

    # ---- SUM-1: the definition's numbers are exactly what this section made.
    s, _ = call(
        "SUM-1 summary of the definition",
        ada_runs.get_workflow_runs_summary_with_http_info,
        definition_id=sid,
        status=200,
        model=WorkflowRunSummaryResponse,
    )
    if s is not None:
        check(
            "SUM-1 counts_by_state: all five, as created",
            s.counts_by_state == {"PENDING": 1, "NOT_STARTED": 1, "IN_PROGRESS": 1, "COMPLETED": 2, "FAILED": 1},
            f"{s.counts_by_state}",
        )
        check("SUM-1 total", s.total == 6, f"{s.total}")
        check("SUM-1 failure_rate = 1/3", s.failure_rate is not None and abs(s.failure_rate - 1 / 3) < 1e-9, f"{s.failure_rate}")
        check(
            "SUM-1 durations",
            s.duration_p50_seconds is not None and 0 <= s.duration_p50_seconds <= s.duration_p95_seconds < 120,
            f"{s.duration_p50_seconds} {s.duration_p95_seconds}",
        )
        check("SUM-1 pending approvals: p", s.pending_approval_count == 1 and s.oldest_pending_age_seconds is not None and s.oldest_pending_age_seconds >= 0, f"{s.pending_approval_count} {s.oldest_pending_age_seconds}")
        check(
            "SUM-1 adoption",
            (s.adoption.runs, s.adoption.distinct_triggerers, s.adoption.active_definitions) == (6, 2, 1),
            f"{s.adoption}",
        )
    # Tenant-wide: the summary agrees with the lists, state by state.
    s = ada_runs.get_workflow_runs_summary()
    total = ada_runs.list_workflow_runs_for_tenant(limit=1).total
    check("SUM-1 tenant total = list total", s.total == total and total >= 6, f"{s.total} vs {total}")
    per_state = {st.value: ada_runs.list_workflow_runs_for_tenant(state=[st], limit=1).total for st in WorkflowExecutionState}
    check("SUM-1 tenant counts_by_state = list totals", s.counts_by_state == per_state, f"{s.counts_by_state} vs {per_state}")
    pend = ada_runs.list_workflow_runs_for_tenant(state=[WorkflowExecutionState.COMPLETED], approval_state=[PathPartApprovalState.PENDING], limit=1).total
    check("SUM-1 pending_approval_count = the list's", s.pending_approval_count == pend and pend >= 1, f"{s.pending_approval_count} vs {pend}")
    # The window, as ksapi spells `since` (`...+0000`).
    s = ada_runs.get_workflow_runs_summary(since=t0)
    check("SUM-1 since: only this section's runs", s.total == 6 and sum(s.counts_by_state.values()) == 6, f"{s.total}")
    s = ada_runs.get_workflow_runs_summary(since=t0, until=t_c - timedelta(microseconds=1))
    check("SUM-1 until (inclusive): all but the last", s.total == 5, f"{s.total}")
    expect_raw_error("SUM-1 a bad since", 422, "unprocessable_entity", "GET", BASE, "/v1/workflow-runs/summary?since=tomorrow", KEYS["ada"])

def definitions(ada_runs, ada_defs, runner_runs, barbara_defs, linus_defs):
    """DEF-1..5 and SCHED-1's fields through the real client, on definitions this function
    creates (names `e2e-defs-*`), so every list answer is compared with exactly what it made."""
    eng, instr = PARTS["eng"], PARTS["instructions"]
    start = datetime(2030, 1, 6, 8, 30, tzinfo=timezone.utc)
    # ---- create with a description and a schedule (SCHED-1, DEF-5)
    a, h = call(
        "DEF-5 create with description and schedule",
        ada_defs.create_workflow_definition_with_http_info,
        CreateWorkflowDefinitionRequest(
            name="e2e-defs-alpha",
            description="Weekly FINANCE digest",
            parent_path_part_id=eng,
            approval_required=False,
            max_run_duration_seconds=900,
            common_file_path_part_ids=[PARTS["spec.md"]],
            schedule_cadence=ScheduleCadence.WEEKLY,
            schedule_start_at=start,
            schedule_timezone="Asia/Shanghai",
        ),
        status=201,
        model=WorkflowDefinitionResponse,
    )
    if a is None:
        return
    check(
        "DEF-5 create: the stored fields come back",
        a.description == "Weekly FINANCE digest"
        and a.schedule_cadence == ScheduleCadence.WEEKLY
        and a.schedule_start_at == start
        and a.schedule_timezone == "Asia/Shanghai"
        and a.owner is not None
        and a.copy_count == 0
        and a.created_from_id is None
        and a.last_run is None,
        f"{a}",
    )
    for bad in ["Mars/Olympus", "+08:00"]:
        expect_error(
            f"SCHED-1 create with schedule_timezone {bad!r}",
            ada_defs.create_workflow_definition,
            CreateWorkflowDefinitionRequest(
                name="e2e-defs-bad", parent_path_part_id=eng, approval_required=False,
                schedule_cadence=ScheduleCadence.DAILY, schedule_start_at=start, schedule_timezone=bad,
            ),
            status=422,
            code="unprocessable_entity",
        )
    b = ada_defs.create_workflow_definition(
        CreateWorkflowDefinitionRequest(name="e2e-defs-Beta", parent_path_part_id=eng, approval_required=False)
    )
    t = ada_defs.create_workflow_definition(
        CreateWorkflowDefinitionRequest(
            name="e2e-defs-template", description="a finance template", parent_path_part_id=eng,
            approval_required=True, is_template=True,
        )
    )
    lin = linus_defs.create_workflow_definition(
        CreateWorkflowDefinitionRequest(name="e2e-defs-linus", parent_path_part_id=instr, approval_required=False)
    )
    mine = {str(x.id) for x in (a, b, lin)}

    # ---- DEF-1: the list, as ksapi encodes its filters and orders
    def ids(page):
        return [str(x.id) for x in page.items]

    page, _ = call(
        "DEF-1 list search",
        ada_defs.list_workflow_definitions_with_http_info,
        search="e2e-defs-",
        limit=100,
        status=200,
        model=PaginatedResponseWorkflowDefinitionResponse,
    )
    check("DEF-1 search: the three runnable ones, not the template", page and set(ids(page)) == mine and page.total == 3, f"{page and ids(page)}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", sort_by=WorkflowDefinitionOrder.NAME)
    check("DEF-1 sort_by NAME: A to Z, case-insensitive", ids(page) == [str(a.id), str(b.id), str(lin.id)], f"{[x.name for x in page.items]}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", sort_by=WorkflowDefinitionOrder.NAME, sort_dir=SortDirection.DESC)
    check("DEF-1 sort_by NAME DESC", ids(page) == [str(lin.id), str(b.id), str(a.id)], f"{[x.name for x in page.items]}")
    page = ada_defs.list_workflow_definitions(search="finance")
    check("DEF-1 search over the description, case-insensitive", ids(page) == [str(a.id)], f"{ids(page)}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", is_template=True)
    check("DEF-1 is_template=true: only the template", ids(page) == [str(t.id)], f"{ids(page)}")
    page = linus_defs.list_workflow_definitions(search="e2e-defs-", mine=True)
    check("DEF-1 mine: Linus's own", ids(page) == [str(lin.id)], f"{ids(page)}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", mine=True, sort_by=WorkflowDefinitionOrder.CREATED_AT, sort_dir=SortDirection.ASC)
    check("DEF-1 mine + CREATED_AT ASC: Ada's, oldest first", ids(page) == [str(a.id), str(b.id)], f"{ids(page)}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", created_after=b.created_at)
    check("DEF-1 created_after (inclusive, +0000 as ksapi spells it)", set(ids(page)) == {str(b.id), str(lin.id)}, f"{ids(page)}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", created_before=b.created_at)
    check("DEF-1 created_before (exclusive)", ids(page) == [str(a.id)], f"{ids(page)}")

    # ---- DEF-2: PUT with retain-on-null
    req = UpdateWorkflowDefinitionRequest(
        name="e2e-defs-alpha2", description="renamed", is_active=True, approval_required=True,
        max_run_duration_seconds=600, instruction_path_part_id=None, parent_path_part_id=None,
        selected_skill_ids=None, common_file_path_part_ids=None,
    )
    check("DEF-2 ksapi sends the retained fields as null", json.loads(req.to_json()).get("common_file_path_part_ids", "absent") in (None, "absent"))
    u, _ = call(
        "DEF-2 update (PUT)",
        ada_defs.update_workflow_definition_with_http_info,
        a.id,
        req,
        status=200,
        model=WorkflowDefinitionResponse,
    )
    check(
        "DEF-2 replaced fields replaced, null fields retained, updated_at moves",
        u is not None
        and u.name == "e2e-defs-alpha2"
        and u.description == "renamed"
        and u.approval_required
        and u.max_run_duration_seconds == 600
        and u.instruction_path_part_id == a.instruction_path_part_id
        and u.parent_path_part_id == a.parent_path_part_id
        and [str(x) for x in (u.common_file_path_part_ids or [])] == [PARTS["spec.md"]]
        and u.updated_at > a.updated_at
        and u.created_at == a.created_at
        and u.schedule_cadence is None,
        f"{u}",
    )
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", sort_by=WorkflowDefinitionOrder.UPDATED_AT)
    check("DEF-1 sort_by UPDATED_AT: the updated one first", ids(page)[:1] == [str(a.id)], f"{ids(page)}")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", updated_after=u.updated_at)
    check("DEF-1 updated_after", ids(page) == [str(a.id)], f"{ids(page)}")
    expect_error(
        "DEF-2 update by a read-only user",
        barbara_defs.update_workflow_definition,
        a.id,
        UpdateWorkflowDefinitionRequest(name="x", is_active=True, approval_required=False),
        status=403,
        code="forbidden",
    )

    # ---- DEF-4: instantiate the template
    c, h = call(
        "DEF-4 instantiate",
        linus_defs.instantiate_workflow_template_with_http_info,
        t.id,
        InstantiateWorkflowTemplateRequest(parent_path_part_id=instr, name="e2e-defs-copy"),
        status=201,
        model=WorkflowDefinitionResponse,
    )
    check(
        "DEF-4 instantiate: Location, created_from_id, runnable copy",
        c is not None
        and h.get("location", "").endswith(f"/{c.id}")
        and str(c.created_from_id) == str(t.id)
        and c.name == "e2e-defs-copy"
        and not c.is_template
        and c.is_active
        and c.description == "a finance template",
        f"{c}",
    )
    t2 = ada_defs.get_workflow_definition(t.id)
    check("DEF-4 the template's copy_count grew", t2.copy_count == 1, f"{t2.copy_count}")
    expect_error(
        "DEF-4 instantiate without write access to the folder",
        barbara_defs.instantiate_workflow_template,
        t.id,
        InstantiateWorkflowTemplateRequest(parent_path_part_id=eng),
        status=403,
        code="forbidden",
    )

    # ---- DEF-3: delete (409 while a run is IN_PROGRESS), DEF-5 last_run
    run = ada_defs.create_workflow_run(str(b.id), name="e2e-defs-run")
    ada_runs.start_workflow_run(run.id)
    b2 = ada_defs.get_workflow_definition(b.id)
    check("DEF-5 last_run", b2.last_run is not None and str(b2.last_run.id) == str(run.id), f"{b2.last_run}")
    expect_error(
        "DEF-3 delete while a run is IN_PROGRESS",
        ada_defs.delete_workflow_definition,
        b.id,
        status=409,
        code="conflict",
    )
    ada_runs.stop_workflow_run(run.id)
    _, _ = call("DEF-3 delete", ada_defs.delete_workflow_definition_with_http_info, b.id, status=204)
    expect_error("DEF-3 the definition is gone", ada_defs.get_workflow_definition, b.id, status=404, code="not_found")
    expect_error("DEF-3 its run is gone", ada_runs.get_workflow_run, run.id, status=404, code="not_found")
    page = ada_defs.list_workflow_definitions(search="e2e-defs-", limit=100)
    check("DEF-1 after the delete", set(ids(page)) == (mine - {str(b.id)}) | {str(c.id)}, f"{ids(page)}")
    for d in (a, t, lin, c):
        r, _ = call(f"DEF-3 delete {d.name}", ada_defs.delete_workflow_definition_with_http_info, d.id, status=204)
    page = ada_defs.list_workflow_definitions(search="e2e-defs-")
    check("DEF-1 all gone", page.total == 0, f"{ids(page)}")


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        failed += 1
        traceback.print_exc()
        print("FAIL the script crashed")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
