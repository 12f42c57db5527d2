//! Credentials and permissions: `unauthorized` (401) and `forbidden` (403).

use super::*;

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
