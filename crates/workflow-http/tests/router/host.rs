//! The host and runner extras: uploads and their ingestion status (SYNC-*), outputs, the
//! thread gate (THREAD-1), and `GET /openapi.json`.

use super::*;

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
