//! SPEC section 6: every other error code, the error body and `x-request-id`, and ERR-1 (no
//! malformed input makes the server answer 500).

use super::*;

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
