"""Reference Temporal worker for workflow-runs (SPEC TEMP-2).

It implements the workflow type the server's Temporal dispatcher starts (`WorkflowRun` by
default), one execution per (run, attempt), whose one argument is the `workflow-run-dispatch/1`
payload (crates/workflow-runner/schema/workflow-run-dispatch-1.json):

1. the `do_work` activity is the agent step. Here it is simulated: it waits `WORK_SECONDS` (or
   `work_seconds=N` from the run's user message), heartbeating so that a cancel reaches it at once, and writes one output document through the
   API, authenticated by the attempt's callback token. A real agent replaces this function.
2. the `report` activity is the gate: it posts the attempt's terminal result with the `ksapi`
   client, the callback token as its API key. The token names the attempt: a late report of a
   superseded attempt is answered `stale_attempt` and changes nothing (RTOK-3).
3. on cancellation (the run was stopped or timed out) the workflow ends CANCELED without a
   callback: the server already recorded the run's end.

Run: `python worker.py --temporal 127.0.0.1:7233 --task-queue workflow-runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import urllib.request
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, is_cancelled_exception
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import ksapi
    from ksapi.models import WorkflowRunCallbackRequest

WORK_SECONDS = float(os.environ.get("WORK_SECONDS", "1"))


def work_seconds(payload: dict) -> float:
    """How long the simulated agent works: `work_seconds=N` in the user message, else WORK_SECONDS."""
    for word in (payload.get("user_message") or "").split():
        if word.startswith("work_seconds="):
            try:
                return float(word.split("=", 1)[1])
            except ValueError:
                pass
    return WORK_SECONDS


def api_base(payload: dict) -> str:
    """The server's base URL, from the payload's callback URL."""
    url = payload["callback_url"]
    return url[: url.index("/v1/workflow-runs/")]


@activity.defn
async def do_work(payload: dict) -> str:
    """The agent step (simulated): work, heartbeating, then write one output document."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + work_seconds(payload)
    while loop.time() < deadline:
        activity.heartbeat()
        await asyncio.sleep(0.1)
    name = f"result-attempt-{payload['attempt']}.md"
    req = urllib.request.Request(
        f"{api_base(payload)}/v1/workflow-runs/{payload['run_id']}/outputs",
        data=json.dumps({"name": name}).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {payload['callback_token']}",
            "Content-Type": "application/json",
        },
    )
    await loop.run_in_executor(None, lambda: urllib.request.urlopen(req, timeout=10).read())
    return name


@activity.defn
async def report(payload: dict, status: str, error: str | None) -> str:
    """The gate: post the attempt's result with ksapi, the callback token as API key."""
    config = ksapi.Configuration(host=api_base(payload), access_token=payload["callback_token"])

    def call() -> str:
        with ksapi.ApiClient(config) as client:
            answer = ksapi.WorkflowRunsApi(client).workflow_run_callback(
                payload["run_id"],
                # ksapi's request has no attempt field: the token names the attempt (RTOK-3).
                WorkflowRunCallbackRequest(status=status, error=error),
            )
            return answer.status

    return await asyncio.get_running_loop().run_in_executor(None, call)


@workflow.defn(name=os.environ.get("WORKFLOW_TYPE", "WorkflowRun"))
class WorkflowRun:
    """One attempt of one run."""

    @workflow.run
    async def run(self, payload: dict) -> str:
        try:
            await workflow.execute_activity(
                do_work,
                payload,
                start_to_close_timeout=timedelta(seconds=payload_seconds(payload)),
                heartbeat_timeout=timedelta(seconds=5),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            status, error = "COMPLETED", None
        except ActivityError as e:
            if is_cancelled_exception(e):
                raise  # stopped or timed out: end CANCELED, no callback
            status, error = "FAILED", f"agent step failed: {e.cause or e}"
        return await workflow.execute_activity(
            report,
            args=[payload, status, error],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=10),
        )


def payload_seconds(payload: dict) -> int:
    """The attempt's time budget: its snapshot's maximum run duration."""
    return int(payload["snapshot"]["max_run_duration_seconds"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temporal", default="127.0.0.1:7233", help="Temporal gRPC address")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default="workflow-runs")
    args = parser.parse_args()
    client = await Client.connect(args.temporal, namespace=args.namespace)
    worker = Worker(
        client,
        task_queue=args.task_queue,
        workflows=[WorkflowRun],
        activities=[do_work, report],
    )
    print(f"worker polling {args.task_queue} on {args.temporal}", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
