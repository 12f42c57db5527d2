//! In-process tests of the router (SPEC sections 6 and 7): one per endpoint and one per error
//! code, on the memory store (behind a switch that makes it fail or panic on demand).
//! Each test's doc comment names the SPEC IDs it proves.
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

/// The `workflow-server` demo tenant (one file: the server's `--demo` fixture).
const DEMO_FIXTURE: &str = include_str!("../../workflow-server/src/demo_fixture.json");

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

// --------------------------------------------------------------------------------- endpoints

/// HTTP-1, HTTP-2, CREATE-3: create from ksapi's multipart form → 201, `Location`, the
/// `WorkflowRunResponse` shape; `files` become uploads (PENDING).
#[tokio::test]
async fn create_run_multipart_http_1_http_2() {
    let w = world();
    let scope = format!("[\"{}\",\"{}\"]", w.part("spec.md"), w.part("crm"));
    let (ct, body) = multipart(&[
        ("input_scope", None, &scope),
        ("name", None, "first"),
        ("auto_start", None, "False"),
    ]);
    let req = Request::post(format!(
        "/v1/workflow-definitions/{}/runs",
        w.def("summarise")
    ))
    .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
    .header(header::CONTENT_TYPE, ct)
    .body(Body::from(body))
    .unwrap();
    let a = w.raw(req).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_run_shape(&a.body);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(
        a.headers[header::LOCATION],
        format!("/v1/workflow-runs/{id}").as_str()
    );
    assert_eq!(a.body["execution_state"], "NOT_STARTED");
    assert_eq!(a.body["name"], "first");
    assert_eq!(a.body["inputs"]["assets"].as_array().unwrap().len(), 2);
    assert!(a.body["permissions"].is_null());

    let (ct, body) = multipart(&[
        ("files", Some("notes.txt"), "hello"),
        ("name", None, "with-file"),
    ]);
    let req = Request::post(format!(
        "/v1/workflow-definitions/{}/runs",
        w.def("summarise")
    ))
    .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
    .header(header::CONTENT_TYPE, ct)
    .body(Body::from(body))
    .unwrap();
    let a = w.raw(req).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["execution_state"], "PENDING");
    assert_eq!(a.body["inputs"]["assets"][0]["name"], "notes.txt");
    assert_eq!(a.body["inputs"]["assets"][0]["origin"], "RUN_UPLOAD");

    // An empty body is an empty draft.
    let req = Request::post(format!(
        "/v1/workflow-definitions/{}/runs",
        w.def("summarise")
    ))
    .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
    .body(Body::empty())
    .unwrap();
    let a = w.raw(req).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["name"], a.body["id"]);
}

/// GET-1, HTTP-1: get answers the run with the caller's `permissions`; a reader may read.
#[tokio::test]
async fn get_run_http_1() {
    let w = world();
    let run = w
        .create(&w.def("summarise"), OWNER, json!({"name": "r"}))
        .await;
    let id = run["id"].as_str().unwrap();
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_run_shape(&a.body);
    assert_eq!(a.body["permissions"]["can_write"], true);
    assert_eq!(a.body["triggered_by"]["first_name"], "Ada");
    let a = w.get(&format!("/v1/workflow-runs/{id}"), BARBARA).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["permissions"]["can_write"], false);
    assert_eq!(a.body["permissions"]["can_read"], true);
}

/// UPDATE-1, UPDATE-3, UPDATE-4: PATCH renames (the folder path follows) and replaces the scope.
#[tokio::test]
async fn update_run_patch() {
    let w = world();
    let run = w.create(&w.def("summarise"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            Some(json!({"name": "renamed", "input_scope": [w.part("spec.md")], "surprise": 1})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(a.body["name"], "renamed");
    assert!(a.body["materialized_path"]
        .as_str()
        .unwrap()
        .ends_with("/runs/renamed"));
    assert_eq!(a.body["input_path_part_ids"], json!([w.part("spec.md")]));
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            Some(json!({})),
        )
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}

/// START-1, START-2, HTTP-2: start answers 202 with `Location`; again is idempotent.
#[tokio::test]
async fn start_run_202_location_http_2() {
    let w = world();
    let run = w.create(&w.def("summarise"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/start"),
            OWNER,
            json!({"user_message": "hi"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(
        a.headers[header::LOCATION],
        format!("/v1/workflow-runs/{id}").as_str()
    );
    assert_run_shape(&a.body);
    assert_eq!(a.body["execution_state"], "IN_PROGRESS");
    assert_eq!(a.body["attempt"], 1);
    assert_eq!(a.body["run_snapshot"]["user_message"], "hi");
    // No body at all is fine too (the whole body is optional), and idempotent.
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/start"),
            Some(OWNER),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.body["attempt"], 1);
    assert_eq!(w.dispatches.0.lock().unwrap().len(), 1);
}

/// STOP-1, STOP-2: stop fails the run with `Stopped by user`; again returns it unchanged.
#[tokio::test]
async fn stop_run_200() {
    let w = world();
    let id = w.started(&w.def("triage"), OWNER).await;
    let a = w
        .post(&format!("/v1/workflow-runs/{id}/stop"), ADMIN, json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_run_shape(&a.body);
    assert_eq!(a.body["execution_state"], "FAILED");
    assert_eq!(a.body["error"], "Stopped by user");
    let a = w
        .post(&format!("/v1/workflow-runs/{id}/stop"), OWNER, json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["version"], 3);
}

/// CB-1, CB-2, CB-3, CB-4, CB-7: the callback answers `WorkflowCallbackResponse`; a runner acts
/// assumed with `x-ks-assumed: true`.
#[tokio::test]
async fn callback_statuses() {
    let w = world();
    let id = w.started(&w.def("summarise"), LINUS).await;
    let cb = |body: Value| {
        Request::post(format!("/v1/workflow-runs/{id}/callback"))
            .header(header::AUTHORIZATION, format!("Bearer {LINUS}"))
            .header("x-ks-assumed", "true")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let a = w
        .raw(cb(json!({"status": "COMPLETED", "attempt": 2})))
        .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (StatusCode::OK, json!({"status": "stale_attempt"}))
    );
    let a = w
        .raw(cb(json!({"status": "COMPLETED", "attempt": 1})))
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));
    let a = w
        .raw(cb(json!({"status": "FAILED", "error": "late"})))
        .await;
    assert_eq!(a.body, json!({"status": "already_terminal"}));
    let a = w.get(&format!("/v1/workflow-runs/{id}"), LINUS).await;
    assert_eq!(a.body["execution_state"], "COMPLETED");
    assert_eq!(a.body["approval_state"], "pending");
    let a = w.raw(cb(json!({"status": "DONE"}))).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}

/// RETRY-1, HTTP-2: retry answers 202 with `Location`, attempt 2, error cleared.
#[tokio::test]
async fn retry_202_location() {
    let w = world();
    let id = w.started(&w.def("triage"), OWNER).await;
    w.post(&format!("/v1/workflow-runs/{id}/stop"), OWNER, json!({}))
        .await;
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/retry"),
            Some(OWNER),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(
        a.headers[header::LOCATION],
        format!("/v1/workflow-runs/{id}").as_str()
    );
    assert_run_shape(&a.body);
    assert_eq!(a.body["attempt"], 2);
    assert!(a.body["error"].is_null());
}

/// CLONE-1, CLONE-2, HTTP-2: clone answers 201 with `Location` of the new run.
#[tokio::test]
async fn clone_201_location() {
    let w = world();
    let run = w
        .create(
            &w.def("summarise"),
            OWNER,
            json!({"input_scope": [w.part("spec.md")]}),
        )
        .await;
    let id = run["id"].as_str().unwrap();
    w.call(
        Method::POST,
        &format!("/v1/workflow-runs/{id}/start"),
        Some(OWNER),
        None,
    )
    .await;
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/clone"),
            LINUS,
            json!({"include_inputs": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_run_shape(&a.body);
    let new_id = a.body["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    assert_eq!(
        a.headers[header::LOCATION],
        format!("/v1/workflow-runs/{new_id}").as_str()
    );
    assert_eq!(a.body["execution_state"], "NOT_STARTED");
    assert_eq!(a.body["triggered_by"]["first_name"], "Linus");
    assert_eq!(a.body["input_path_part_ids"].as_array().unwrap().len(), 1);
    // include_inputs is required (the ksapi model requires it): HTTP-3.
    let a = w
        .post(&format!("/v1/workflow-runs/{id}/clone"), LINUS, json!({}))
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}

/// APPROVE-1, APPROVE-3, APPROVE-5: approval approves the run and its outputs; an assumed
/// actor is forbidden.
#[tokio::test]
async fn approval_200() {
    let w = world();
    let id = w.started(&w.def("summarise"), OWNER).await;
    assert_eq!(w.complete(&id, OWNER).await, "updated");
    let url = format!("/v1/workflow-runs/{id}/approval");
    let req = Request::post(&url)
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header("x-ks-assumed", "true")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"state":"approved"}"#))
        .unwrap();
    assert_error(&w.raw(req).await, StatusCode::FORBIDDEN, "forbidden");
    let a = w.post(&url, OWNER, json!({"state": "rejected"})).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    let a = w
        .post(&url, OWNER, json!({"state": "approved", "reason": "ok"}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(a.body["approval_state"], "approved");
    assert_eq!(a.body["outputs"]["assets"][0]["approval_state"], "approved");
}

/// DELETE-1, DELETE-3: delete answers 204; a later get is 404.
#[tokio::test]
async fn delete_204_then_404() {
    let w = world();
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let a = w
        .call(
            Method::DELETE,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(a.body.is_null());
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
}

/// LIST-1: without `sort_by` the lists sort by STARTED_AT, newest first, never-started runs
/// last, as ksapi documents its default; `sort_by=CREATED_AT` sorts by creation.
#[tokio::test]
async fn list_default_order_is_started_at() {
    let w = world();
    let older = w
        .create(&w.def("summarise"), OWNER, json!({"name": "older"}))
        .await;
    let newer = w
        .create(&w.def("summarise"), OWNER, json!({"name": "newer"}))
        .await;
    let older_id = older["id"].as_str().unwrap();
    let a = w
        .post(
            &format!("/v1/workflow-runs/{older_id}/start"),
            OWNER,
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let names = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let by_default = w.get("/v1/workflow-runs", OWNER).await;
    assert_eq!(
        names(&by_default),
        ["older", "newer"],
        "{}",
        by_default.body
    );
    let by_created = w.get("/v1/workflow-runs?sort_by=CREATED_AT", OWNER).await;
    assert_eq!(names(&by_created)[0], newer["name"].as_str().unwrap());
}

/// LIST-1, HTTP-1: both lists answer `{items, total, limit, offset}` with the query ksapi sends.
#[tokio::test]
async fn list_runs_pages() {
    let w = world();
    for n in 0..3 {
        w.create(&w.def("summarise"), OWNER, json!({"name": format!("s{n}")}))
            .await;
    }
    w.create(&w.def("triage"), LINUS, json!({"name": "t"}))
        .await;
    let a = w
        .get(
            "/v1/workflow-runs?limit=2&offset=1&sort_by=CREATED_AT&sort_dir=DESC",
            OWNER,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (
            a.body["total"].as_u64(),
            a.body["limit"].as_u64(),
            a.body["offset"].as_u64()
        ),
        (Some(4), Some(2), Some(1))
    );
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(assert_run_shape);
    // ksapi sends list-valued enums as `str(member)`.
    let a = w
        .get(
            "/v1/workflow-runs?state=WorkflowExecutionState.NOT_STARTED&mine=true",
            LINUS,
        )
        .await;
    assert_eq!(a.body["total"], 1, "{}", a.body);
    let a = w
        .get(
            &format!(
                "/v1/workflow-definitions/{}/runs?limit=100",
                w.def("summarise")
            ),
            BARBARA,
        )
        .await;
    assert_eq!(a.body["total"], 3);
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "offset=-1",
        "state=DONE",
        "sort_dir=ASC",
    ] {
        let a = w.get(&format!("/v1/workflow-runs?{bad}"), OWNER).await;
        assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    }
}

/// HTTP-1, HTTP-2: definitions: create 201 with `Location` (an empty `instruction.md` is made
/// when none is given), get 200, the `WorkflowDefinitionResponse` shape.
#[tokio::test]
async fn definitions_create_and_get() {
    let w = world();
    let a = w
        .post(
            "/v1/workflow-definitions",
            LINUS,
            json!({"name": "mine", "parent_path_part_id": w.part("eng"), "approval_required": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.headers[header::LOCATION],
        format!("/v1/workflow-definitions/{id}").as_str()
    );
    assert_eq!(a.body["part_type"], "WORKFLOW_DEFINITION");
    assert_eq!(a.body["max_run_duration_seconds"], 1800);
    assert_ne!(
        a.body["instruction_path_part_id"],
        "00000000-0000-0000-0000-000000000000"
    );
    for k in [
        "id",
        "path_part_id",
        "materialized_path",
        "tenant_id",
        "name",
        "instruction_path_part_id",
        "approval_state",
        "created_at",
        "updated_at",
    ] {
        assert!(a.body[k].is_string(), "{k}");
    }
    for k in ["is_active", "approval_required", "is_template"] {
        assert!(a.body[k].is_boolean(), "{k}");
    }
    let a = w
        .get(&format!("/v1/workflow-definitions/{id}"), LINUS)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["permissions"]["can_write"], true);
    // Barbara may only read /shared: no write grant on /shared/eng.
    let a = w
        .post(
            "/v1/workflow-definitions",
            BARBARA,
            json!({"name": "nope", "parent_path_part_id": w.part("eng"), "approval_required": false}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = w
        .post("/v1/workflow-definitions", OWNER, json!({"name": "x", "parent_path_part_id": w.part("eng"), "approval_required": false, "max_run_duration_seconds": 10}))
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}

/// SYNC-1, SYNC-2, START-4: the upload and ingestion endpoints drive a run PENDING → NOT_STARTED.
#[tokio::test]
async fn uploads_and_ingestion() {
    let w = world();
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/inputs"),
            OWNER,
            json!({"name": "a.txt"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["run"]["execution_state"], "PENDING");
    let version = a.body["version_path_part_id"].as_str().unwrap().to_owned();
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/start"),
            Some(OWNER),
            None,
        )
        .await;
    assert_error(&a, StatusCode::CONFLICT, "conflict");
    let url = format!("/v1/document-versions/{version}/ingestion");
    let a = w
        .call(
            Method::PUT,
            &url,
            Some(LINUS),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = w
        .call(
            Method::PUT,
            &url,
            Some(ADMIN),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(a.body["execution_state"], "NOT_STARTED");
}

/// Outputs endpoint: a runner (assumed) writes an output into an IN_PROGRESS run.
#[tokio::test]
async fn outputs_endpoint() {
    let w = world();
    let id = w.started(&w.def("summarise"), OWNER).await;
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/outputs"),
            OWNER,
            json!({"name": "report.md"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["asset"]["part_type"], "DOCUMENT");
    assert_eq!(a.body["asset"]["approval_state"], "pending");
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_eq!(a.body["outputs"]["assets"][0]["name"], "report.md");
}

/// THREAD-1: the thread gate answers `run_busy` while the run is IN_PROGRESS.
#[tokio::test]
async fn thread_gate_run_busy() {
    let w = world();
    let id = w.started(&w.def("triage"), OWNER).await;
    let a = w
        .get(&format!("/v1/workflow-runs/{id}/thread-gate"), OWNER)
        .await;
    assert_error(&a, StatusCode::CONFLICT, "run_busy");
    w.post(&format!("/v1/workflow-runs/{id}/stop"), OWNER, json!({}))
        .await;
    let a = w
        .get(&format!("/v1/workflow-runs/{id}/thread-gate"), OWNER)
        .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (StatusCode::OK, json!({"accepting_messages": true}))
    );
}

/// `GET /openapi.json`: an OpenAPI 3 document generated from the code, listing every route.
#[tokio::test]
async fn openapi_document() {
    let w = world();
    let a = w.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = a.body["paths"].as_object().unwrap();
    for (p, m) in [
        ("/v1/workflow-runs", "get"),
        ("/v1/workflow-runs/{run_id}", "get"),
        ("/v1/workflow-runs/{run_id}", "patch"),
        ("/v1/workflow-runs/{run_id}", "delete"),
        ("/v1/workflow-runs/{run_id}/start", "post"),
        ("/v1/workflow-runs/{run_id}/stop", "post"),
        ("/v1/workflow-runs/{run_id}/callback", "post"),
        ("/v1/workflow-runs/{run_id}/retry", "post"),
        ("/v1/workflow-runs/{run_id}/clone", "post"),
        ("/v1/workflow-runs/{run_id}/approval", "post"),
        ("/v1/workflow-definitions", "post"),
        ("/v1/workflow-definitions/{definition_id}", "get"),
        ("/v1/workflow-definitions/{definition_id}/runs", "get"),
        ("/v1/workflow-definitions/{definition_id}/runs", "post"),
    ] {
        assert!(
            paths.get(p).and_then(|x| x.get(m)).is_some(),
            "{m} {p} missing"
        );
    }
    assert!(a.body["components"]["schemas"]["WorkflowRunResponse"].is_object());
}

// ------------------------------------------------------------------------- section 6 codes

/// ERR-1, `bad_request` (400): a body the schema cannot express (an unsupported content type).
#[tokio::test]
async fn error_bad_request() {
    let w = world();
    let req = Request::post(format!("/v1/workflow-definitions/{}/runs", w.def("triage")))
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("name=x"))
        .unwrap();
    assert_error(&w.raw(req).await, StatusCode::BAD_REQUEST, "bad_request");
    let req = Request::post(format!("/v1/workflow-definitions/{}/runs", w.def("triage")))
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=zz")
        .body(Body::from("garbage"))
        .unwrap();
    assert_error(&w.raw(req).await, StatusCode::BAD_REQUEST, "bad_request");
}

/// `unauthorized` (401): missing credentials, unknown key; the `ks_uat` cookie is accepted.
#[tokio::test]
async fn error_unauthorized() {
    let w = world();
    let a = w.call(Method::GET, "/v1/workflow-runs", None, None).await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = w.get("/v1/workflow-runs", "sk-unknown").await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let req = Request::get("/v1/workflow-runs")
        .header(header::COOKIE, format!("theme=dark; ks_uat={OWNER}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(w.raw(req).await.status, StatusCode::OK);
}

/// VIS-2, ERR-2, `forbidden` (403): a reader may see the run but not stop it; nothing written.
#[tokio::test]
async fn error_forbidden() {
    let w = world();
    let id = w.started(&w.def("triage"), OWNER).await;
    let a = w
        .post(&format!("/v1/workflow-runs/{id}/stop"), BARBARA, json!({}))
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_eq!(a.body["execution_state"], "IN_PROGRESS");
    assert_eq!(a.body["version"], 2);
}

/// VIS-1, `not_found` (404): unknown id, another tenant's run, an unknown route.
#[tokio::test]
async fn error_not_found() {
    let w = world();
    let a = w
        .get(
            &format!("/v1/workflow-runs/{}", uuid::Uuid::new_v4()),
            OWNER,
        )
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    let a = w.get("/v1/nothing-here", OWNER).await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
}

/// `conflict` (409): starting a COMPLETED run; deleting an IN_PROGRESS one.
#[tokio::test]
async fn error_conflict() {
    let w = world();
    let id = w.started(&w.def("triage"), OWNER).await;
    let a = w
        .call(
            Method::DELETE,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            None,
        )
        .await;
    assert_error(&a, StatusCode::CONFLICT, "conflict");
    assert_eq!(w.complete(&id, OWNER).await, "updated");
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/start"),
            Some(OWNER),
            None,
        )
        .await;
    assert_error(&a, StatusCode::CONFLICT, "conflict");
}

/// `payload_too_large` (413): a body over the configured limit, JSON or multipart.
#[tokio::test]
async fn error_payload_too_large() {
    let w = world_with(HttpConfig {
        body_limit: 1024,
        ..HttpConfig::default()
    });
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let big = "x".repeat(4096);
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            Some(json!({"name": big})),
        )
        .await;
    assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (ct, body) = multipart(&[("files", Some("big.bin"), &big)]);
    let req = Request::post(format!("/v1/workflow-definitions/{}/runs", w.def("triage")))
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    assert_error(
        &w.raw(req).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

/// HTTP-3, `unprocessable_entity` (422): a path id that is not a UUID, a body that is not JSON,
/// a missing required field, a wrong type; unknown fields are ignored.
#[tokio::test]
async fn error_unprocessable_http_3() {
    let w = world();
    let a = w.get("/v1/workflow-runs/not-a-uuid", OWNER).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let req = Request::patch(format!("/v1/workflow-runs/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    assert_error(
        &w.raw(req).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
    );
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            OWNER,
            json!({"error": "x"}),
        )
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            Some(json!({"input_scope": ["nope"]})),
        )
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            Some(json!({"name": 7})),
        )
        .await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
    // Unknown fields are ignored.
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(OWNER),
            Some(json!({"name": "ok", "colour": "blue"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

/// `service_unavailable` (503): the store reports `Unavailable`; safe to retry.
#[tokio::test]
async fn error_service_unavailable() {
    let w = world();
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    w.store.hook.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_error(&a, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    w.store.hook.mode.store(OK, Ordering::SeqCst);
    assert_eq!(
        w.get(&format!("/v1/workflow-runs/{id}"), OWNER)
            .await
            .status,
        StatusCode::OK
    );
}

/// `internal_error` (500): a corrupt store, and a panicking one; the server keeps serving and
/// the detail leaks nothing.
#[tokio::test]
async fn error_internal() {
    let w = world();
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    w.store.hook.mode.store(CORRUPT, Ordering::SeqCst);
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(!a.body["detail"].as_str().unwrap().contains("bad row"));
    w.store.hook.mode.store(PANIC, Ordering::SeqCst);
    let a = w.get(&format!("/v1/workflow-runs/{id}"), OWNER).await;
    assert_error(&a, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    w.store.hook.mode.store(OK, Ordering::SeqCst);
    assert_eq!(
        w.get(&format!("/v1/workflow-runs/{id}"), OWNER)
            .await
            .status,
        StatusCode::OK
    );
}

/// Section 6: `x-request-id` is taken from the request when given, else generated, on every
/// answer; error bodies carry the same id.
#[tokio::test]
async fn request_id_header() {
    let w = world();
    let req = Request::get("/v1/workflow-runs")
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let a = w.raw(req).await;
    assert_eq!(a.headers["x-request-id"], "abc-123");
    let req = Request::get("/v1/workflow-runs/zzz")
        .header("x-request-id", "abc-124")
        .body(Body::empty())
        .unwrap();
    let a = w.raw(req).await;
    assert_eq!(a.body["request_id"], "abc-124");
    let a = w.get("/v1/workflow-runs", OWNER).await;
    assert!(uuid::Uuid::parse_str(a.headers["x-request-id"].to_str().unwrap()).is_ok());
}

/// ERR-1: no input, however malformed, makes the server answer 500.
#[tokio::test]
async fn err_1_malformed_inputs_never_500() {
    let w = world();
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let def = w.def("triage");
    let bodies: [&[u8]; 10] = [
        b"",
        b"null",
        b"[]",
        b"{}",
        b"\"str\"",
        b"{\"status\": null}",
        b"{\"name\": \"a/b\"}",
        b"{\"input_scope\": [1,2]}",
        b"\xff\xfe\x00",
        b"{\"state\": \"approved\", \"reason\": 5}",
    ];
    let paths = [
        (Method::PATCH, format!("/v1/workflow-runs/{id}")),
        (Method::POST, format!("/v1/workflow-runs/{id}/start")),
        (Method::POST, format!("/v1/workflow-runs/{id}/callback")),
        (Method::POST, format!("/v1/workflow-runs/{id}/clone")),
        (Method::POST, format!("/v1/workflow-runs/{id}/approval")),
        (Method::POST, format!("/v1/workflow-runs/{id}/inputs")),
        (Method::POST, format!("/v1/workflow-definitions/{def}/runs")),
        (Method::POST, "/v1/workflow-definitions".to_owned()),
        (Method::POST, "/v1/workflow-runs/%00/start".to_owned()),
        (
            Method::GET,
            "/v1/workflow-runs?limit=%ff&offset=99999999999999999999999".to_owned(),
        ),
    ];
    for (m, p) in &paths {
        for b in bodies {
            for ct in ["application/json", "multipart/form-data", "text/plain"] {
                let req = Request::builder()
                    .method(m.clone())
                    .uri(p)
                    .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
                    .header(header::CONTENT_TYPE, ct)
                    .body(Body::from(b.to_vec()))
                    .unwrap();
                let a = w.raw(req).await;
                assert!(
                    a.status.as_u16() < 500,
                    "{m} {p} {ct} {b:?}: {} {}",
                    a.status,
                    a.body
                );
                if !a.status.is_success() {
                    assert!(a.body["code"].is_string());
                }
            }
        }
    }
}

/// CONC-3 through the router: of N concurrent starts of one run, all answer 202 IN_PROGRESS
/// and exactly one dispatches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_dispatch_once() {
    let w = Arc::new(world());
    let run = w.create(&w.def("triage"), OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (w, id) = (w.clone(), id.clone());
        handles.push(tokio::spawn(async move {
            w.call(
                Method::POST,
                &format!("/v1/workflow-runs/{id}/start"),
                Some(OWNER),
                None,
            )
            .await
        }));
    }
    for h in handles {
        let a = h.await.unwrap();
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        assert_eq!(a.body["execution_state"], "IN_PROGRESS");
        assert_eq!(a.body["attempt"], 1);
    }
    assert_eq!(w.dispatches.0.lock().unwrap().len(), 1);
}
