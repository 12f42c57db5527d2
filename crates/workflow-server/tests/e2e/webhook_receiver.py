"""A Standard Webhooks receiver for `workflow-server --runner webhook` (SPEC HOOK-1, HOOK-2).

It verifies every request with the independent `standardwebhooks` package from PyPI (refusing a
tampered body, a wrong secret or a stale timestamp with 401), deduplicates by `webhook-id` (the
same on every redelivery of a message, DISP-2), and for a dispatch answers 200 at once, then in
the background acts as the agent: writes one output document and posts the callback COMPLETED
with the `ksapi` client, the payload's `callback_token` as its API key. A cancel is
acknowledged and ends that attempt's pending work.

For the end-to-end test (webhook_e2e.py) a dispatch whose `user_message` is
`webhook-e2e:<mode>` is answered differently:
  * `503x2`: 503 with `Retry-After: 2` to the first two deliveries, then as usual;
  * `410`:   410 Gone, always (the server dead-letters it, DISP-5);
  * `hang`:  the first two deliveries get no answer for HANG_SECONDS (the server cuts them
             off), then as usual;
  * `hold`:  200, but no callback (the run stays IN_PROGRESS until stopped).
`GET /deliveries` lists every request received, verified or not, as JSON.

    python webhook_receiver.py --listen 127.0.0.1:9000 --secret-file webhook.secret
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import ksapi
from ksapi.models import WorkflowRunCallbackRequest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HANG_SECONDS = 8.0


class State:
    def __init__(self, secret: str):
        self.webhook = Webhook(secret)
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # everything received, in order
        self.tries: dict[str, int] = {}  # deliveries per webhook-id
        self.done: set[str] = set()  # webhook-ids processed (answered 2xx)
        self.callbacks: list[dict] = []  # callbacks posted: run, attempt, answer
        self.cancelled: set[tuple[str, int]] = set()


def api_base(payload: dict) -> str:
    url = payload["callback_url"]
    return url[: url.index("/v1/workflow-runs/")]


def run_attempt(state: State, payload: dict) -> None:
    """The agent: one output document, then the terminal report, both with the token."""
    token = payload["callback_token"]
    config = ksapi.Configuration(host=api_base(payload), access_token=token)
    key = (payload["run_id"], payload["attempt"])
    try:
        # ksapi has no call for outputs: plain HTTP, the same token.
        urllib.request.urlopen(urllib.request.Request(
            f"{api_base(payload)}/v1/workflow-runs/{payload['run_id']}/outputs",
            data=json.dumps({"name": f"result-attempt-{payload['attempt']}.md"}).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ), timeout=10).read()
        if key in state.cancelled:
            return
        with ksapi.ApiClient(config) as client:
            answer = ksapi.WorkflowRunsApi(client).workflow_run_callback(
                payload["run_id"], WorkflowRunCallbackRequest(status="COMPLETED")
            )
            outcome = answer.status
    except Exception as e:  # noqa: BLE001 - recorded for the test to see
        outcome = f"error: {e}"
    with state.lock:
        state.callbacks.append({"run_id": key[0], "attempt": key[1], "outcome": outcome})


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def answer(self, status: int, text: str = "", headers: dict | None = None) -> None:
            body = text.encode()
            try:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the sender gave up (timed out)

        def do_GET(self):
            with state.lock:
                text = json.dumps({"requests": state.requests, "callbacks": state.callbacks})
            self.answer(200, text, {"Content-Type": "application/json"})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = {
                "at": time.time(),
                "id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "signature": headers.get("webhook-signature"),
                "probe": "x-e2e-probe" in headers,
                "body_b64": base64.b64encode(raw).decode(),
            }
            try:
                payload = state.webhook.verify(raw, headers)
                record["verified"] = True
            except (WebhookVerificationError, ValueError) as e:
                record.update(verified=False, why=str(e))
                with state.lock:
                    state.requests.append(record)
                self.answer(401, f"not verified: {e}")
                return
            wid = record["id"]
            record.update(type=payload.get("type"), run_id=payload.get("run_id"),
                          attempt=payload.get("attempt"))
            with state.lock:
                state.requests.append(record)
                n = state.tries[wid] = state.tries.get(wid, 0) + 1
                duplicate = wid in state.done
            record["try"] = n
            if duplicate:
                self.answer(200, "duplicate")
                return
            mode = ""
            message = payload.get("user_message") or ""
            if message.startswith("webhook-e2e:"):
                mode = message.split(":", 1)[1]
            if mode == "503x2" and n <= 2:
                self.answer(503, "busy", {"Retry-After": "2"})
                return
            if mode == "410":
                self.answer(410, "this receiver is gone")
                return
            if mode == "hang" and n <= 2:
                time.sleep(HANG_SECONDS)
                self.answer(200, "too late")
                return
            with state.lock:
                if wid in state.done:  # a concurrent redelivery won
                    duplicate = True
                state.done.add(wid)
            if duplicate:
                self.answer(200, "duplicate")
                return
            if payload.get("type") == "cancel":
                with state.lock:
                    state.cancelled.add((payload["run_id"], payload["attempt"]))
                self.answer(200, "cancelled")
                return
            self.answer(202, "accepted")
            if mode != "hold":
                threading.Thread(target=run_attempt, args=(state, payload), daemon=True).start()

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:9000")
    parser.add_argument("--secret-file", required=True)
    args = parser.parse_args()
    secret = open(args.secret_file).read().split()[0]
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), make_handler(State(secret)))
    server.daemon_threads = True
    print(f"webhook receiver listening on http://{host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
