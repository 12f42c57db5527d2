//! In-process tests of the router (SPEC sections 6 and 7): one per endpoint and one per error
//! code, on the memory store (behind a switch that makes it fail or panic on demand).
//! Each test's doc comment names the SPEC IDs it proves.
//!
//! One test binary (`cargo test -p workflow-http --test router`), one module per area; this file
//! holds what they share: the faulty store, the dispatch recorder, the [`World`] and its request
//! helpers, and the shape assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_core::*;
use workflow_http::{router, HttpConfig};
use workflow_store_memory::MemoryStore;

mod auth;
mod definitions;
mod definitions_admin;
mod errors;
mod host;
mod ksapi_routes;
mod lists;
mod runs;
mod surface;
mod watch;

/// The `workflow-server` demo tenant (one file: the server's `--demo` fixture).
const DEMO_FIXTURE: &str = include_str!("../../../workflow-server/src/demo_fixture.json");

const OWNER: &str = "sk-user-demo-owner";
const ADMIN: &str = "sk-user-demo-admin";
const LINUS: &str = "sk-user-demo-linus";
const BARBARA: &str = "sk-user-demo-barbara";

// ------------------------------------------------------------------------------ a faulty store

const OK: u8 = 0;
const UNAVAILABLE: u8 = 1;
const CORRUPT: u8 = 2;
const PANIC: u8 = 3;

/// The memory store, with a switch that makes `load_run` fail or panic.
type Faulty = Intercepted<MemoryStore, FaultSwitch>;

/// The switch of [`Faulty`] (one of `OK`, `UNAVAILABLE`, `CORRUPT`, `PANIC`).
struct FaultSwitch {
    mode: AtomicU8,
}

impl Interceptor<MemoryStore> for FaultSwitch {
    fn before(&self, _: &MemoryStore, call: Call<'_>) -> StoreResult<()> {
        if !matches!(call, Call::LoadRun(..)) {
            return Ok(());
        }
        match self.mode.load(Ordering::SeqCst) {
            UNAVAILABLE => Err(StoreError::unavailable("database is locked")),
            CORRUPT => Err(StoreError::corrupt("bad row")),
            PANIC => panic!("store panicked (test)"),
            _ => Ok(()),
        }
    }
}

/// Keeps every dispatch, so a test can play the runner.
#[derive(Default)]
struct Recorder(Mutex<Vec<Dispatch>>);

impl Dispatcher for Recorder {
    fn dispatch(&self, d: &Dispatch) -> Result<(), DispatchError> {
        self.0.lock().unwrap().push(d.clone());
        Ok(())
    }
    fn cancel(&self, _: &Cancel) -> Result<(), DispatchError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------- the world

struct World {
    app: Router,
    store: Arc<Faulty>,
    dispatches: Arc<Recorder>,
    fixture: Fixture,
}

fn world_with(config: HttpConfig) -> World {
    let store = Arc::new(Intercepted::new(
        MemoryStore::new(),
        FaultSwitch {
            mode: AtomicU8::new(OK),
        },
    ));
    let dispatches = Arc::new(Recorder::default());
    let engine = Arc::new(Engine::new(store.clone()).with_dispatcher(dispatches.clone()));
    let fixture: Fixture = serde_json::from_str(DEMO_FIXTURE).unwrap();
    engine.load_fixture(&fixture).unwrap();
    World {
        app: router(engine, config),
        store,
        dispatches,
        fixture,
    }
}

fn world() -> World {
    world_with(HttpConfig::default())
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl World {
    fn def(&self, name: &str) -> String {
        self.fixture
            .definitions
            .iter()
            .find(|d| d.name == name)
            .unwrap()
            .id
            .to_string()
    }
    fn part(&self, name: &str) -> String {
        self.fixture
            .path_parts
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .id
            .to_string()
    }

    async fn raw(&self, req: Request<Body>) -> Answer {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("not JSON ({status}): {:?}", String::from_utf8_lossy(&bytes))
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        self.raw(b.body(body).unwrap()).await
    }

    async fn get(&self, uri: &str, key: &str) -> Answer {
        self.call(Method::GET, uri, Some(key), None).await
    }
    async fn post(&self, uri: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, uri, Some(key), Some(body)).await
    }

    /// A run of `def` created through the API (JSON form), returned as JSON.
    async fn create(&self, def: &str, key: &str, body: Value) -> Value {
        let a = self
            .post(&format!("/v1/workflow-definitions/{def}/runs"), key, body)
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body
    }

    async fn started(&self, def: &str, key: &str) -> String {
        let run = self.create(def, key, json!({})).await;
        let id = run["id"].as_str().unwrap().to_owned();
        let a = self
            .call(
                Method::POST,
                &format!("/v1/workflow-runs/{id}/start"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        id
    }

    fn last_dispatch(&self) -> Dispatch {
        self.dispatches.0.lock().unwrap().last().unwrap().clone()
    }

    /// Play the runner of the last dispatch over HTTP, as its triggerer (`key`), assumed: write
    /// one output document, then report COMPLETED with the attempt number. Returns the
    /// callback's `status`.
    async fn complete(&self, id: &str, key: &str) -> Value {
        let attempt = self.last_dispatch().key.attempt;
        let assumed = |path: &str, body: Value| {
            Request::post(format!("/v1/workflow-runs/{id}/{path}"))
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header("x-ks-assumed", "true")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let a = self
            .raw(assumed("outputs", json!({"name": "result.md"})))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let a = self
            .raw(assumed(
                "callback",
                json!({"status": "COMPLETED", "attempt": attempt}),
            ))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["status"].clone()
    }
}

fn multipart(fields: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "XyZboundary42";
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The required fields of ksapi 3.18.2's `WorkflowRunResponse` and their JSON types.
fn assert_run_shape(v: &Value) {
    let s = |k: &str| assert!(v[k].is_string(), "{k} must be a string: {v}");
    let s_or_null = |k: &str| assert!(v[k].is_string() || v[k].is_null(), "{k}: {v}");
    for k in [
        "id",
        "path_part_id",
        "materialized_path",
        "tenant_id",
        "name",
        "workflow_definition_id",
        "created_at",
        "updated_at",
    ] {
        s(k);
    }
    for k in [
        "parent_path_part_id",
        "started_at",
        "completed_at",
        "error",
        "run_thread_id",
    ] {
        s_or_null(k);
    }
    assert_eq!(v["part_type"], "WORKFLOW_RUN");
    assert!(v["auto_start"].is_boolean());
    assert!(v["triggered_by"]["user_id"].is_string());
    assert!(ExecutionState::ALL
        .iter()
        .any(|e| v["execution_state"] == e.as_str()));
    assert!(ApprovalState::ALL
        .iter()
        .any(|e| v["approval_state"] == e.as_str()));
    for f in ["inputs", "outputs"] {
        assert!(v[f]["id"].is_string() && v[f]["path_part_id"].is_string());
        assert!(v[f]["materialized_path"].is_string());
        for a in v[f]["assets"].as_array().unwrap() {
            for k in [
                "id",
                "path_part_id",
                "name",
                "part_type",
                "materialized_path",
                "approval_state",
            ] {
                assert!(a[k].is_string(), "asset {k}: {a}");
            }
        }
    }
    assert!(v["discussions"]["materialized_path"].is_string());
    if !v["run_snapshot"].is_null() {
        let snap = &v["run_snapshot"];
        assert!(snap["workflow_name"].is_string());
        assert!(snap["max_run_duration_seconds"].is_u64());
        assert_eq!(snap["instruction"]["part_type"], "DOCUMENT_VERSION");
        assert!(snap["instruction"]["path_part_id"].is_string());
        for i in snap["inputs"].as_array().unwrap() {
            assert!([
                "DOCUMENT_VERSION",
                "FOLDER",
                "DATA_SOURCE",
                "API_CONNECTION"
            ]
            .contains(&i["part_type"].as_str().unwrap()));
        }
    }
    // RFC 3339 with a timezone.
    chrono::DateTime::parse_from_rfc3339(v["created_at"].as_str().unwrap()).unwrap();
}

fn assert_error(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["code"], code, "{}", a.body);
    assert!(a.body["detail"].is_string());
    let rid = a.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(a.body["request_id"], rid);
}
