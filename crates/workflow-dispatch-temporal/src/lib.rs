//! # workflow-dispatch-temporal
//!
//! A [`workflow_core::Dispatcher`] that hands each attempt of a run to **Temporal**, the engine
//! the reference system dispatches to, through Temporal's HTTP API (SPEC TEMP-1):
//!
//! * a dispatch starts the workflow execution `workflow-run-<run_id>-<attempt>` of the
//!   configured type on the configured task queue, with the DISP-1 payload
//!   ([`workflow_runner::DispatchPayload`]) as its one `json/plain` argument and the outbox
//!   message id as Temporal's request id. A redelivery returns the same execution; "already
//!   started" (the execution exists, or ran and closed: the id reuse policy rejects duplicates)
//!   counts as delivered. So there is at most one execution per (run, attempt) (DISP-2).
//! * a cancel requests cancellation of that workflow id; an execution that is unknown or
//!   already closed counts as delivered (DISP-3).
//! * errors are classified for the relay: an unknown namespace, a malformed request or any other
//!   4xx but 408/429 are permanent (dead letter, DISP-5); refused connections, timeouts, 408,
//!   429 and 5xx are transient (retry with backoff, DISP-4).
//!
//! The client is synchronous (`ureq`): the relay calls dispatchers from its own threads. No
//! Temporal type leaks into `workflow-core`.
//!
//! ## Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use workflow_core::Engine;
//! use workflow_dispatch_temporal::{TemporalConfig, TemporalDispatcher};
//! use workflow_runner::{PayloadBuilder, TokenKeys};
//! # fn store() -> workflow_store_memory::MemoryStore { workflow_store_memory::MemoryStore::new() }
//!
//! let keys = TokenKeys::load_or_create("token.secret".as_ref()).unwrap();
//! let payloads = PayloadBuilder::new("http://127.0.0.1:8000", keys, chrono::Duration::seconds(60));
//! let dispatcher = TemporalDispatcher::new(TemporalConfig::new("http://127.0.0.1:7243"), payloads);
//! let engine = Engine::new(store()).with_dispatcher(Arc::new(dispatcher));
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;
use workflow_core::{Cancel, Dispatch, DispatchError, Dispatcher, RunId};
use workflow_runner::PayloadBuilder;

/// Where and how to start executions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemporalConfig {
    /// The base URL of Temporal's HTTP API (`temporal server start-dev --http-port`).
    pub url: String,
    /// The namespace (`default`).
    pub namespace: String,
    /// The task queue the workers poll (`workflow-runs`).
    pub task_queue: String,
    /// The workflow type the workers implement (`WorkflowRun`).
    pub workflow_type: String,
    /// Connecting gives up after this.
    pub connect_timeout: Duration,
    /// A whole call gives up after this.
    pub timeout: Duration,
}

impl TemporalConfig {
    /// Defaults for everything but the URL: namespace `default`, task queue `workflow-runs`,
    /// workflow type `WorkflowRun`, 2 s to connect, 10 s per call.
    pub fn new(url: &str) -> Self {
        TemporalConfig {
            url: url.trim_end_matches('/').to_owned(),
            namespace: "default".into(),
            task_queue: "workflow-runs".into(),
            workflow_type: "WorkflowRun".into(),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The workflow id of one attempt (TEMP-1).
pub fn workflow_id(run_id: RunId, attempt: u32) -> String {
    format!("workflow-run-{run_id}-{attempt}")
}

/// Starts and cancels Temporal workflow executions.
#[derive(Debug)]
pub struct TemporalDispatcher {
    config: TemporalConfig,
    agent: ureq::Agent,
    payloads: PayloadBuilder,
}

impl TemporalDispatcher {
    /// A dispatcher for `config`, building payloads with `payloads`.
    pub fn new(config: TemporalConfig, payloads: PayloadBuilder) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        TemporalDispatcher {
            config,
            agent,
            payloads,
        }
    }

    fn workflows_url(&self, workflow_id: &str) -> String {
        format!(
            "{}/api/v1/namespaces/{}/workflows/{}",
            self.config.url, self.config.namespace, workflow_id
        )
    }

    fn post(&self, url: &str, body: &Value) -> Result<(u16, Value), DispatchError> {
        let text = serde_json::to_string(body).map_err(|e| permanent(e.to_string()))?;
        let mut response = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .send(text)
            .map_err(|e| transient(format!("temporal unreachable: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| transient(format!("temporal answer unreadable: {e}")))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

fn transient(message: String) -> DispatchError {
    DispatchError {
        retryable: true,
        message,
        retry_after: None,
    }
}

fn permanent(message: String) -> DispatchError {
    DispatchError {
        retryable: false,
        message,
        retry_after: None,
    }
}

/// Temporal's error detail type (`…errordetails.v1.NotFoundFailure`), if any.
fn detail_type(body: &Value) -> &str {
    body["details"][0]["@type"].as_str().unwrap_or("")
}

/// The classification shared by start and cancel: 2xx delivered; 408, 429, 5xx transient;
/// other statuses permanent, unless `delivered_anyway` says the answer means done.
fn classify(
    what: &str,
    status: u16,
    body: &Value,
    delivered_anyway: impl Fn(u16, &Value) -> bool,
) -> Result<(), DispatchError> {
    if (200..300).contains(&status) || delivered_anyway(status, body) {
        return Ok(());
    }
    let message = format!(
        "temporal {what}: HTTP {status}: {}",
        body["message"].as_str().unwrap_or("(no message)")
    );
    if status == 408 || status == 429 || status >= 500 {
        Err(transient(message))
    } else {
        Err(permanent(message))
    }
}

impl Dispatcher for TemporalDispatcher {
    fn dispatch(&self, d: &Dispatch) -> Result<(), DispatchError> {
        let payload = self.payloads.dispatch(d);
        let data = serde_json::to_vec(&payload).map_err(|e| permanent(e.to_string()))?;
        let id = workflow_id(d.key.run_id, d.key.attempt);
        let body = json!({
            "workflowId": id,
            "workflowType": {"name": self.config.workflow_type},
            "taskQueue": {"name": self.config.task_queue},
            "input": {"payloads": [{
                "metadata": {"encoding": STANDARD.encode("json/plain")},
                "data": STANDARD.encode(data),
            }]},
            "requestId": d.message_id().to_string(),
            "workflowIdReusePolicy": "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE",
            "identity": "workflow-runs",
        });
        let (status, answer) = self.post(&self.workflows_url(&id), &body)?;
        classify("start", status, &answer, |status, body| {
            status == 409 && detail_type(body).ends_with("WorkflowExecutionAlreadyStartedFailure")
        })
    }

    fn cancel(&self, c: &Cancel) -> Result<(), DispatchError> {
        let id = workflow_id(c.key.run_id, c.key.attempt);
        let body = json!({
            "requestId": c.message_id().to_string(),
            "reason": c.reason,
            "identity": "workflow-runs",
        });
        let url = format!("{}/cancel", self.workflows_url(&id));
        let (status, answer) = self.post(&url, &body)?;
        classify("cancel", status, &answer, |status, body| {
            // Never started (its dispatch was never delivered). A closed one answers 200.
            let kind = detail_type(body);
            status == 404 && kind.ends_with(".NotFoundFailure")
        })
    }
}
