//! `http_bodies`: arbitrary bytes into every JSON body decoder, multipart form, query string and
//! path parser of the server (SPEC ERR-1, HTTP-3): each input is one request to one endpoint of
//! the real router, in process, over a fresh memory store loaded with the e2e fixture. No answer
//! may be a 5xx, and every non-2xx answer must be the SPEC section 6 body `{detail, code,
//! request_id}` with a known code.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;
use workflow_core::{Actor, CreateRun, Engine, ErrorCode, Fixture, StartRun, Store};
use workflow_http::{router, HttpConfig};
use workflow_store_memory::MemoryStore;

const FIXTURE: &str = include_str!("../../crates/workflow-server/tests/e2e/fixture.json");
const KEYS: [&str; 4] = ["sk-user-e2e-owner", "sk-user-e2e-barbara", "sk-user-e2e-globex", "nope"];

#[derive(Arbitrary, Debug)]
struct Input {
    endpoint: u8,
    id: IdChoice,
    key: u8,
    content_type: u8,
    query: String,
    body: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum IdChoice {
    Draft,
    Started,
    Definition,
    Raw(String),
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(FIXTURE).expect("the e2e fixture parses"))
}

/// Percent-encodes everything but unreserved characters (and `=`/`&` in queries).
fn encode(raw: &str, query: bool) -> String {
    let mut out = String::new();
    for b in raw.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (query && matches!(b, b'=' | b'&'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|input: Input| {
    let engine = Engine::new(MemoryStore::new());
    if engine.load_fixture(fixture()).is_err() {
        panic!("fixture does not load");
    }
    let owner = match engine.store().user_by_api_key(KEYS[0]) {
        Ok(Some(u)) => Actor::of(&u),
        _ => panic!("fixture owner missing"),
    };
    let def = fixture().definitions[0].id;
    let draft = engine.create_run(&owner, def, CreateRun::default()).expect("draft");
    let started = engine.create_run(&owner, def, CreateRun::default()).expect("run");
    let started = engine.start_run(&owner, started.id, StartRun::default()).expect("start");
    let id = match &input.id {
        IdChoice::Draft => draft.id.to_string(),
        IdChoice::Started => started.id.to_string(),
        IdChoice::Definition => def.to_string(),
        IdChoice::Raw(s) => encode(s, false),
    };
    let (method, path) = match input.endpoint % 16 {
        0 => ("POST", format!("/v1/workflow-definitions/{id}/runs")),
        1 => ("PATCH", format!("/v1/workflow-runs/{id}")),
        2 => ("POST", format!("/v1/workflow-runs/{id}/start")),
        3 => ("POST", format!("/v1/workflow-runs/{id}/stop")),
        4 => ("POST", format!("/v1/workflow-runs/{id}/callback")),
        5 => ("POST", format!("/v1/workflow-runs/{id}/retry")),
        6 => ("POST", format!("/v1/workflow-runs/{id}/clone")),
        7 => ("POST", format!("/v1/workflow-runs/{id}/approval")),
        8 => ("POST", "/v1/workflow-definitions".to_string()),
        9 => ("POST", format!("/v1/workflow-runs/{id}/inputs")),
        10 => ("PUT", format!("/v1/document-versions/{id}/ingestion")),
        11 => ("POST", format!("/v1/workflow-runs/{id}/outputs")),
        12 => ("GET", "/v1/workflow-runs".to_string()),
        13 => ("GET", format!("/v1/workflow-runs/{id}")),
        14 => ("DELETE", format!("/v1/workflow-runs/{id}")),
        _ => ("GET", format!("/v1/workflow-definitions/{id}/runs")),
    };
    let uri = if input.query.is_empty() {
        path
    } else {
        format!("{path}?{}", encode(&input.query, true))
    };
    let content_type = match input.content_type % 5 {
        0 => Some("application/json"),
        1 => Some("multipart/form-data; boundary=XyZ"),
        2 => None,
        3 => Some("application/x-www-form-urlencoded"),
        _ => Some("text/plain"),
    };
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(&uri)
        .header("authorization", format!("Bearer {}", KEYS[usize::from(input.key % 4)]));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let Ok(req) = req.body(axum::body::Body::from(input.body)) else {
        return; // not a valid HTTP request at all: nothing reaches the server
    };
    let app = router(Arc::new(engine), HttpConfig::default());
    let (status, body) = runtime().block_on(async move {
        let res = app.oneshot(req).await.expect("the router is infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, bytes)
    });
    assert!(
        !status.is_server_error(),
        "{method} {uri} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("error bodies are JSON");
        let code = v["code"].as_str().expect("an error body has a code");
        assert!(
            code.parse::<ErrorCode>().is_ok(),
            "unknown code {code}"
        );
        assert_eq!(
            code.parse::<ErrorCode>().map(|c| c.http_status()).ok(),
            Some(status.as_u16()),
            "{code} answered with {status}"
        );
        assert!(v["detail"].is_string() && v["request_id"].is_string());
    }
});
