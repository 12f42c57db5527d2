//! VIS-1 across tenants, through the router: every operation by tenant B's owner on tenant A's
//! runs, definitions and upload versions answers 404 `not_found` (never 403, which would confirm
//! the id exists) and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use workflow_core::Engine;
use workflow_http::{router, HttpConfig};
use workflow_store_memory::MemoryStore;

/// The two-tenant fixture of the server's end-to-end tests (one file for both).
const FIXTURE: &str = include_str!("../../workflow-server/tests/e2e/fixture.json");
/// Tenant A (`acme`): the owner.
const A_OWNER: &str = "sk-user-e2e-owner";
/// Tenant B (`globex`): its owner, who can do anything in tenant B.
const B_OWNER: &str = "sk-user-e2e-globex";
/// Tenant A's `summarise` and `triage` definitions.
const SUMMARISE: &str = "8eec69a1-330e-53b4-a884-2be90ab90470";
const TRIAGE: &str = "7b308138-3892-5cd5-92c9-51a93b79796a";

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(b.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

/// What tenant A's owner sees of a run (the state, the version, the assets).
async fn snapshot(app: &Router, run: &str) -> Value {
    let (s, mut b) = call(
        app,
        Method::GET,
        &format!("/v1/workflow-runs/{run}"),
        A_OWNER,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b.as_object_mut().unwrap().remove("permissions");
    b
}

#[tokio::test]
async fn vis_1_every_operation_across_tenants_is_not_found_and_changes_nothing() {
    let engine = Arc::new(Engine::new(MemoryStore::new()));
    engine
        .load_fixture(&serde_json::from_str(FIXTURE).unwrap())
        .unwrap();
    let app = router(engine, HttpConfig::default());

    // Tenant A: a draft with an upload, a started run, a completed run, a failed run.
    let (s, draft) = call(
        &app,
        Method::POST,
        &format!("/v1/workflow-definitions/{TRIAGE}/runs"),
        A_OWNER,
        Some(json!({"name": "draft"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{draft}");
    let draft = draft["id"].as_str().unwrap().to_owned();
    let (s, up) = call(
        &app,
        Method::POST,
        &format!("/v1/workflow-runs/{draft}/inputs"),
        A_OWNER,
        Some(json!({"name": "notes.txt"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let version = up["version_path_part_id"].as_str().unwrap().to_owned();
    let mut started = Vec::new();
    for name in ["running", "completed", "failed"] {
        let (s, r) = call(
            &app,
            Method::POST,
            &format!("/v1/workflow-definitions/{SUMMARISE}/runs"),
            A_OWNER,
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let id = r["id"].as_str().unwrap().to_owned();
        let (s, r) = call(
            &app,
            Method::POST,
            &format!("/v1/workflow-runs/{id}/start"),
            A_OWNER,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        if name != "running" {
            let status = if name == "completed" {
                "COMPLETED"
            } else {
                "FAILED"
            };
            let (s, r) = call(
                &app,
                Method::POST,
                &format!("/v1/workflow-runs/{id}/callback"),
                A_OWNER,
                Some(json!({"status": status, "error": "boom"})),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{r}");
        }
        started.push(id);
    }
    let runs: Vec<String> = std::iter::once(draft.clone()).chain(started).collect();
    let mut before = Vec::new();
    for r in &runs {
        before.push(snapshot(&app, r).await);
    }

    // Tenant B's owner on every run-scoped operation of every one of tenant A's runs.
    for run in &runs {
        let ops: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/workflow-runs/{run}"), None),
            (
                Method::PATCH,
                format!("/v1/workflow-runs/{run}"),
                Some(json!({"name": "hijacked"})),
            ),
            (
                Method::POST,
                format!("/v1/workflow-runs/{run}/start"),
                Some(json!({"user_message": "x"})),
            ),
            (Method::POST, format!("/v1/workflow-runs/{run}/stop"), None),
            (
                Method::POST,
                format!("/v1/workflow-runs/{run}/callback"),
                Some(json!({"status": "FAILED", "error": "x"})),
            ),
            (Method::POST, format!("/v1/workflow-runs/{run}/retry"), None),
            (
                Method::POST,
                format!("/v1/workflow-runs/{run}/clone"),
                Some(json!({"include_inputs": true})),
            ),
            (
                Method::POST,
                format!("/v1/workflow-runs/{run}/approval"),
                Some(json!({"state": "approved"})),
            ),
            (
                Method::POST,
                format!("/v1/workflow-runs/{run}/inputs"),
                Some(json!({"name": "evil.txt"})),
            ),
            (
                Method::POST,
                format!("/v1/workflow-runs/{run}/outputs"),
                Some(json!({"name": "evil.txt"})),
            ),
            (
                Method::GET,
                format!("/v1/workflow-runs/{run}/thread-gate"),
                None,
            ),
            (Method::DELETE, format!("/v1/workflow-runs/{run}"), None),
        ];
        for (method, uri, body) in ops {
            let (s, b) = call(&app, method.clone(), &uri, B_OWNER, body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{method} {uri}: {b}");
            assert_eq!(b["code"], "not_found", "{method} {uri}: {b}");
        }
    }

    // ... on tenant A's definitions.
    for def in [SUMMARISE, TRIAGE] {
        let ops: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/workflow-definitions/{def}"), None),
            (
                Method::GET,
                format!("/v1/workflow-definitions/{def}/runs"),
                None,
            ),
            (
                Method::POST,
                format!("/v1/workflow-definitions/{def}/runs"),
                Some(json!({"name": "intruder"})),
            ),
        ];
        for (method, uri, body) in ops {
            let (s, b) = call(&app, method.clone(), &uri, B_OWNER, body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{method} {uri}: {b}");
            assert_eq!(b["code"], "not_found", "{method} {uri}: {b}");
        }
    }

    // ... on an upload version of tenant A (the ingestion pipeline's endpoint).
    let uri = format!("/v1/document-versions/{version}/ingestion");
    let (s, b) = call(
        &app,
        Method::PUT,
        &uri,
        B_OWNER,
        Some(json!({"status": "completed"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "PUT {uri}: {b}");
    assert_eq!(b["code"], "not_found", "PUT {uri}: {b}");

    // Tenant B's list shows none of tenant A's runs; filtering on tenant A's definition is 404.
    let (s, b) = call(&app, Method::GET, "/v1/workflow-runs", B_OWNER, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["total"], 0, "{b}");
    assert_eq!(b["items"], json!([]), "{b}");
    let uri = format!("/v1/workflow-runs?definition_id={SUMMARISE}");
    let (s, b) = call(&app, Method::GET, &uri, B_OWNER, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{uri}: {b}");
    assert_eq!(b["code"], "not_found", "{uri}: {b}");

    // Nothing changed in tenant A.
    for (r, b) in runs.iter().zip(&before) {
        assert_eq!(&snapshot(&app, r).await, b, "run {r} changed");
    }
    let (s, b) = call(&app, Method::GET, "/v1/workflow-runs", A_OWNER, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["total"], runs.len(), "{b}");
}
