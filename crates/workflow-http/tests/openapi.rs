//! The OpenAPI document says exactly what the server answers and accepts (what schemathesis
//! checks in crates/workflow-server/tests/e2e/schemathesis.sh): every operation documents its error statuses with the
//! SPEC section 6 body, request schemas carry the server's limits, and the server refuses with
//! 4xx what the schema excludes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use workflow_core::Engine;
use workflow_http::{openapi, router, HttpConfig};
use workflow_store_memory::MemoryStore;

/// The two-tenant fixture of the server's end-to-end tests (one file for both).
const FIXTURE: &str = include_str!("../../workflow-server/tests/e2e/fixture.json");
const OWNER: &str = "sk-user-e2e-owner";
const TRIAGE: &str = "7b308138-3892-5cd5-92c9-51a93b79796a";

fn doc() -> Value {
    serde_json::to_value(openapi()).unwrap()
}

fn app() -> Router {
    let engine = Arc::new(Engine::new(MemoryStore::new()));
    engine
        .load_fixture(&serde_json::from_str(FIXTURE).unwrap())
        .unwrap();
    router(engine, HttpConfig::default())
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

async fn call(app: &Router, method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"));
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |s| Body::from(s.to_owned()));
    send(app, b.body(body).unwrap()).await
}

async fn draft(app: &Router) -> String {
    let uri = format!("/v1/workflow-definitions/{TRIAGE}/runs");
    let (s, b) = call(app, Method::POST, &uri, Some("{}")).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_str().unwrap().to_owned()
}

/// The document is valid OpenAPI 3.1 where generators stumble (issue 15; the full check is
/// `openapi-spec-validator` in crates/workflow-server/tests/e2e/openapi_validate.sh): every
/// response has a non-empty `description`, and no schema publishes a `default` that its own
/// `minLength` refuses. HIST-1 and WATCH-1 are documented.
#[test]
fn openapi_3_1_responses_have_descriptions_and_defaults_fit() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, r) in op["responses"].as_object().unwrap() {
                let d = r["description"].as_str().unwrap_or_default();
                assert!(
                    !d.trim().is_empty(),
                    "{method} {path} {status}: no description"
                );
            }
        }
    }
    fn defaults_fit(v: &Value, at: &str) {
        match v {
            Value::Object(o) => {
                if let (Some(Value::String(d)), Some(min)) = (o.get("default"), o.get("minLength"))
                {
                    assert!(
                        d.len() as u64 >= min.as_u64().unwrap(),
                        "{at}: default {d:?}"
                    );
                }
                o.iter()
                    .for_each(|(k, v)| defaults_fit(v, &format!("{at}/{k}")));
            }
            Value::Array(a) => a.iter().for_each(|v| defaults_fit(v, at)),
            _ => {}
        }
    }
    defaults_fit(&doc, "");
    let history = &doc["paths"]["/v1/workflow-runs/{run_id}/history"]["get"];
    assert!(
        history["responses"]["200"].is_object(),
        "HIST-1 is documented"
    );
    let get = &doc["paths"]["/v1/workflow-runs/{run_id}"]["get"];
    let params: Vec<&str> = get["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"wait_for_version_gt") && params.contains(&"wait_seconds"),
        "WATCH-1 is documented: {params:?}"
    );
}

/// SPEC section 6: every operation documents 401, 403, 404, 422, 500 and 503 (writes also 409,
/// bodies also 400 and 413) with the `ErrorBody` schema, and every answer the `x-request-id`
/// header.
#[test]
fn every_operation_documents_its_error_statuses() {
    let doc = doc();
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            n += 1;
            let responses = op["responses"].as_object().unwrap();
            let mut want = vec!["401", "403", "404", "422", "500", "503"];
            if method != "get" {
                want.push("409");
            }
            if op.get("requestBody").is_some() {
                want.extend(["400", "413"]);
            }
            for status in want {
                let r = &responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path}: no {status}"));
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            for (status, r) in responses {
                assert!(
                    r["headers"].get("x-request-id").is_some(),
                    "{method} {path} {status}: no x-request-id header"
                );
            }
        }
    }
    // 19 before SPEC section 10's routes, plus resume, summary, and the definitions' list,
    // PUT, DELETE and instantiate.
    assert_eq!(n, 25);
}

/// Request schemas carry the server's rules (CREATE-4 names, lengths, enums, UUIDs), taken from
/// workflow-core: the policy constants, `NAME_PATTERN`, and each domain enum's `ALL`.
#[test]
fn request_schemas_say_what_is_accepted() {
    use workflow_core::policy::*;
    use workflow_core::{ApprovalState, CallbackStatus, ExecutionState, Ingestion, RunOrder};
    fn wire<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Value {
        json!(all.iter().map(|v| as_str(*v)).collect::<Vec<_>>())
    }
    let doc = doc();
    let s = &doc["components"]["schemas"];
    for (schema, field) in [
        ("CreateWorkflowDefinitionRequest", "name"),
        ("UpdateWorkflowRunRequest", "name"),
        ("CreateWorkflowRunForm", "name"),
        ("AddUploadRequest", "name"),
        ("AddOutputRequest", "name"),
    ] {
        // A schema with rules across properties is an allOf whose first item is the object.
        let object = if s[schema]["allOf"].is_array() {
            &s[schema]["allOf"][0]
        } else {
            &s[schema]
        };
        let name = &object["properties"][field];
        assert_eq!(name["minLength"], 1, "{schema}.{field}");
        assert_eq!(name["maxLength"], MAX_NAME_LEN, "{schema}.{field}");
        assert_eq!(name["pattern"], NAME_PATTERN, "{schema}.{field}");
    }
    assert_eq!(
        s["CallbackStatusValue"]["enum"],
        wire(CallbackStatus::ALL, CallbackStatus::as_str)
    );
    assert_eq!(
        s["CallbackStatusValue"]["enum"],
        json!(["COMPLETED", "FAILED"])
    );
    assert_eq!(s["ApprovalValue"]["enum"], json!(["approved"]));
    assert_eq!(
        s["ExecutionStateValue"]["enum"],
        wire(ExecutionState::ALL, ExecutionState::as_str)
    );
    assert_eq!(
        s["ApprovalStateValue"]["enum"],
        wire(ApprovalState::ALL, ApprovalState::as_str)
    );
    assert_eq!(
        s["IngestionValue"]["enum"],
        wire(Ingestion::ALL, Ingestion::as_str)
    );
    assert_eq!(
        s["SortByValue"]["enum"],
        wire(RunOrder::ALL, RunOrder::as_str)
    );
    assert_eq!(
        s["WorkflowRunCallbackRequest"]["properties"]["error"]["maxLength"],
        MAX_ERROR_LEN
    );
    assert_eq!(
        s["SetWorkflowRunApprovalRequest"]["properties"]["reason"]["maxLength"],
        MAX_REASON_LEN
    );
    // UPDATE-3, UPDATE-6: null is allowed per field, and at least one field must be non-null
    // (an anyOf of "this field present and not null").
    let all_of = &s["UpdateWorkflowRunRequest"]["allOf"];
    let patch = &all_of[0];
    assert_eq!(patch["minProperties"], 1);
    let any_of = all_of[1]["anyOf"].as_array().unwrap();
    let mut non_null: Vec<&str> = any_of
        .iter()
        .map(|b| b["required"][0].as_str().unwrap())
        .collect();
    non_null.sort_unstable();
    assert_eq!(
        non_null,
        ["auto_start", "input_scope", "name", "user_message"]
    );
    for b in any_of {
        let field = b["required"][0].as_str().unwrap();
        assert_ne!(b["properties"][field]["type"], "null", "{b}");
    }
    assert_eq!(
        patch["properties"]["user_message"]["maxLength"],
        MAX_USER_MESSAGE_LEN
    );
    assert_eq!(
        patch["properties"]["input_scope"]["maxItems"],
        MAX_INPUT_SCOPE
    );
    assert!(patch["properties"]["input_scope"]["items"]["pattern"].is_string());
    let form = &s["CreateWorkflowRunForm"];
    // HTTP-3: unknown form fields are ignored, so the schema does not forbid them; only names
    // that a multipart header can carry (no control characters).
    assert_ne!(form["additionalProperties"], false);
    assert!(form["propertyNames"]["pattern"].is_string(), "{form}");
    assert_eq!(
        form["properties"]["input_scope"]["maxItems"],
        MAX_INPUT_SCOPE
    );
    assert_eq!(
        form["properties"]["user_message"]["maxLength"],
        MAX_USER_MESSAGE_LEN
    );
    assert_eq!(form["properties"]["idempotency_key"]["minLength"], 1);
    assert_eq!(
        form["properties"]["idempotency_key"]["maxLength"],
        workflow_http::wire::IDEMPOTENCY_KEY_MAX_LEN
    );
    assert_eq!(
        s["StartWorkflowRunRequest"]["properties"]["user_message"]["maxLength"],
        MAX_USER_MESSAGE_LEN
    );
}

/// What the schema excludes is refused with 4xx; what it allows is not refused with 400/422.
#[tokio::test]
async fn the_server_is_exactly_as_strict_as_the_schema() {
    let app = app();
    let run = draft(&app).await;
    let patch = format!("/v1/workflow-runs/{run}");
    // PATCH fields are absent or set; `null` and `{}` are schema-invalid.
    let (s, b) = call(&app, Method::PATCH, &patch, Some(r#"{"name": null}"#)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = call(&app, Method::PATCH, &patch, Some("{}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = call(
        &app,
        Method::PATCH,
        &patch,
        Some(r#"{"auto_start": false}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // An integral JSON number is an integer, whatever its spelling.
    let body = r#"{"name": "d1", "parent_path_part_id": "e1c8c354-7077-5057-9439-3802ba1055a4", "approval_required": false, "max_run_duration_seconds": 600.0}"#;
    let (s, b) = call(&app, Method::POST, "/v1/workflow-definitions", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["max_run_duration_seconds"], 600);
    let body = body.replace("600.0", "600.5").replace("d1", "d2");
    let (s, b) = call(&app, Method::POST, "/v1/workflow-definitions", Some(&body)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // `offset` is at most i64::MAX, as documented.
    let (s, b) = call(
        &app,
        Method::GET,
        "/v1/workflow-runs?offset=9223372036854775807",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = call(
        &app,
        Method::GET,
        "/v1/workflow-runs?offset=9223372036854775808",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // Another user's owner_id: a filter among the runs the caller can read, never forbidden
    // (LIST-2).
    let uri = "/v1/workflow-runs?owner_id=b74decd1-dbc7-570e-bcc3-382c2e4301f7";
    let (s, b) = call(&app, Method::GET, uri, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The create form (HTTP-3): an unknown field is ignored (the schema does not forbid
    // additional properties), and `files` parts are files.
    for (part, want) in [
        (
            "Content-Disposition: form-data; name=\"colour\"\r\n\r\nblue",
            StatusCode::CREATED,
        ),
        (
            "Content-Disposition: form-data; name=\"files\"\r\n\r\n42",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let body = format!("--XX\r\n{part}\r\n--XX--\r\n");
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/workflow-definitions/{TRIAGE}/runs"))
            .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
            .body(Body::from(body))
            .unwrap();
        let (s, b) = send(&app, req).await;
        assert_eq!(s, want, "{part}: {b}");
    }
    // One form part per scope id, as the schema's array is sent.
    let scope = [
        "e1c8c354-7077-5057-9439-3802ba1055a4",
        "d58a3c98-50cf-5619-858f-c3d633ec13a7",
    ];
    let body: String = scope
        .iter()
        .map(|id| {
            format!("--XX\r\nContent-Disposition: form-data; name=\"input_scope\"\r\n\r\n{id}\r\n")
        })
        .chain(std::iter::once("--XX--\r\n".to_owned()))
        .collect();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/workflow-definitions/{TRIAGE}/runs"))
        .header(header::AUTHORIZATION, format!("Bearer {OWNER}"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
        .body(Body::from(body))
        .unwrap();
    let (s, b) = send(&app, req).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["input_path_part_ids"], json!(scope));
}
