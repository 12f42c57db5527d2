//! HTTP-4: every workflow route of ksapi 3.18.2 is served or answers 501 `not_implemented`,
//! never 404 (which reads as "run not found") nor 405. The routes come from the checked-in
//! fixture `tests/ksapi_routes.txt`, generated from the ksapi package's source by
//! `tests/ksapi_routes.py` (see its doc for how to regenerate it after a ksapi upgrade).
//!
//! Served (as of this test): every `WorkflowRunsApi` and `WorkflowDefinitionsApi` method but
//! those in [`PENDING`]. Answering 501 (`src/handlers/unserved.rs`, listed in the README):
//! `AdminWorkflowsApi`, `WorkflowMemoryApi`, `WorkflowRepositoryApi` and
//! `DiagnosticsApi.compute_workflow_run_diagnostics`.

use super::*;

/// The ksapi workflow routes (METHOD PATH Api.method per line).
const KSAPI_ROUTES: &str = include_str!("../ksapi_routes.txt");
/// The README that lists the routes answering 501.
const README: &str = include_str!("../../README.md");

/// Routes being added to this server, which may still answer 404/405 (the test prints which);
/// remove each from here once it is served, so that it is checked like every other route. The
/// issue 15 routes (resume, the definitions' list, PUT, DELETE and instantiate, the summary)
/// are all served now.
const PENDING: &[&str] = &[];

struct Route<'a> {
    method: &'a str,
    path: &'a str,
    ksapi: &'a str,
}

fn ksapi_routes() -> Vec<Route<'static>> {
    let routes: Vec<Route<'static>> = KSAPI_ROUTES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            Route {
                method: parts.next().unwrap(),
                path: parts.next().unwrap(),
                ksapi: parts.next().unwrap(),
            }
        })
        .collect();
    assert!(
        routes.len() >= 40,
        "the fixture lost routes: {}",
        routes.len()
    );
    routes
}

/// HTTP-4: each ksapi workflow route, called with a readable run and definition of a fresh
/// world as the tenant's OWNER, answers neither 404 nor 405; a 501 is `not_implemented` with a
/// detail naming the route and its ksapi method, and is listed in the README.
#[tokio::test]
async fn http_4_no_ksapi_workflow_route_answers_404_or_405() {
    let mut unserved = 0;
    for r in ksapi_routes() {
        // A fresh world per route: a DELETE must not take the ids the next route uses.
        let w = world();
        let def = w.def("triage");
        let run = w.create(&def, OWNER, json!({})).await;
        let run_id = run["id"].as_str().unwrap();
        let uri = r
            .path
            .replace("{run_id}", run_id)
            .replace("{definition_id}", &def)
            .replace("{template_id}", &def)
            .replace("{chunk_id}", &uuid::Uuid::new_v4().to_string());
        assert!(!uri.contains('{'), "unknown path parameter in {}", r.path);
        let method = Method::from_bytes(r.method.as_bytes()).unwrap();
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let a = w.call(method, &uri, Some(OWNER), body).await;
        let route = format!("{} {}", r.method, r.path);
        let refused = matches!(
            a.status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        );
        if PENDING.contains(&route.as_str()) {
            // `GET /v1/workflow-runs/summary` unserved falls to GET run: "summary" is no UUID.
            let no_uuid = a.status == StatusCode::UNPROCESSABLE_ENTITY
                && a.body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("not a UUID");
            if refused || no_uuid {
                eprintln!(
                    "HTTP-4: {route} ({}) is not served yet: {}",
                    r.ksapi, a.status
                );
            } else {
                eprintln!(
                    "HTTP-4: {route} is served now ({}): remove it from PENDING",
                    a.status
                );
            }
            continue;
        }
        assert!(
            !refused,
            "{route} ({}) answered {}: {}",
            r.ksapi, a.status, a.body
        );
        if a.status == StatusCode::NOT_IMPLEMENTED {
            unserved += 1;
            assert_error(&a, StatusCode::NOT_IMPLEMENTED, "not_implemented");
            let detail = a.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(r.path) && detail.contains(r.ksapi),
                "{route}: {detail}"
            );
            assert!(
                README.contains(&format!("`{route}`")),
                "{route} answers 501 but the README does not list it"
            );
        }
    }
    assert_eq!(unserved, 20, "routes answering 501");
}

/// HTTP-4: a 501 route answers the same without credentials, and other methods on its path
/// (which ksapi does not call) stay 405.
#[tokio::test]
async fn http_4_unserved_routes_answer_501_to_anyone() {
    let w = world();
    let def = w.def("triage");
    let a = w
        .call(
            Method::GET,
            &format!("/v1/workflow-definitions/{def}/memory"),
            None,
            None,
        )
        .await;
    assert_error(&a, StatusCode::NOT_IMPLEMENTED, "not_implemented");
    assert!(a.body["detail"]
        .as_str()
        .unwrap()
        .contains("WorkflowMemoryApi.list_workflow_memory_chunks"));
    let a = w
        .call(
            Method::PUT,
            "/v1/admin/workflows/summary",
            Some(OWNER),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{}", a.body);
}

/// HTTP-3: an unknown field of the multipart create form, and of a JSON create body, is
/// ignored: the run is created from the known ones.
#[tokio::test]
async fn http_3_unknown_create_form_fields_are_ignored() {
    let w = world();
    let (ct, body) = multipart(&[("name", None, "with extras"), ("colour", None, "blue")]);
    let req = Request::post(format!("/v1/workflow-definitions/{}/runs", w.def("triage")))
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let a = w.raw(req).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["name"], "with extras");
    let run = w
        .create(
            &w.def("triage"),
            OWNER,
            json!({"name": "json extras", "colour": "blue"}),
        )
        .await;
    assert_eq!(run["name"], "json extras");
}
