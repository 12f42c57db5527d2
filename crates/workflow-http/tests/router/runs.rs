//! The run endpoints of SPEC section 7: create (multipart and JSON), get, PATCH, start, stop,
//! callback, retry, clone, approval, delete; and concurrent starts through the router.

use super::*;

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
