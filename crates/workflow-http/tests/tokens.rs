//! Runners' callback tokens over HTTP (SPEC section 9: RTOK-2, RTOK-3, RTOK-4, CB-4), on the
//! memory store with the two-tenant fixture of the server's end-to-end tests. Each test's doc
//! comment names the SPEC IDs it proves.
//!
//! Tokens are minted here with `workflow_runner::TokenKeys`, as the server's relay mints them
//! for a dispatch; the router is configured with the keys that verify them
//! (`HttpConfig::tokens`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tower::ServiceExt;
use uuid::Uuid;
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_core::{Engine, RunId, StoreResult, TenantId, UserId};
use workflow_http::{router, HttpConfig};
use workflow_runner::{TokenClaims, TokenKeys};
use workflow_store_memory::MemoryStore;

/// Two tenants: `acme` (A) and `globex` (B).
const FIXTURE: &str = include_str!("../../workflow-server/tests/e2e/fixture.json");
const A_OWNER: &str = "sk-user-e2e-owner";
const A_TENANT: &str = "13a7edf1-4aed-5699-b0cc-d73165aa0784";
const A_OWNER_ID: &str = "8cb36f47-9448-57c4-a788-d29090a09354";
/// A `USER` of tenant A with a read-write grant on `/shared/eng`, where the definitions live.
const A_LINUS: &str = "sk-user-e2e-linus";
const A_LINUS_ID: &str = "e143554f-0b11-5470-a03a-4ac34a0c1dcc";
const B_TENANT: &str = "4c0b88d4-17af-50d7-9e44-bf341418c650";
const B_OWNER_ID: &str = "81771fbb-8bef-5576-97d3-978acbacbbee";
/// Tenant A's definitions: `summarise` requires approval, `triage` does not.
const SUMMARISE: &str = "8eec69a1-330e-53b4-a884-2be90ab90470";
const TRIAGE: &str = "7b308138-3892-5cd5-92c9-51a93b79796a";
/// Tenant A's `shared` folder.
const SHARED: &str = "83479a20-d647-50e9-a31f-6866b201c7be";

const SECRET: [u8; 32] = [7; 32];
const OLD_SECRET: [u8; 32] = [9; 32];
const OTHER_SECRET: [u8; 32] = [42; 32];

/// Counts every store call, so a test can prove that a refused token read nothing (RTOK-4).
struct Counter(Arc<AtomicUsize>);

impl Interceptor<MemoryStore> for Counter {
    fn before(&self, _: &MemoryStore, _: Call<'_>) -> StoreResult<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct World {
    app: Router,
    store_calls: Arc<AtomicUsize>,
}

fn keys(current: &[u8; 32], previous: Option<&[u8; 32]>) -> TokenKeys {
    TokenKeys::new(current.to_vec(), previous.map(|p| p.to_vec())).unwrap()
}

/// A router over a fresh store with the fixture, verifying tokens with `tokens`.
fn world_with(tokens: Option<TokenKeys>) -> World {
    let store_calls = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(Intercepted::new(
        MemoryStore::new(),
        Counter(store_calls.clone()),
    ));
    let engine = Arc::new(Engine::new(store.clone()));
    engine
        .load_fixture(&serde_json::from_str(FIXTURE).unwrap())
        .unwrap();
    let config = HttpConfig {
        tokens: tokens.map(Arc::new),
        ..HttpConfig::default()
    };
    World {
        app: router(engine, config),
        store_calls,
    }
}

/// A router that verifies tokens signed with [`SECRET`].
fn world() -> World {
    world_with(Some(keys(&SECRET, None)))
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn in_an_hour() -> i64 {
    chrono::Utc::now().timestamp() + 3600
}

/// Claims for `run` at `attempt`, acting as `user` of `tenant`, valid for an hour.
fn claims(tenant: &str, run: &str, attempt: u32, user: &str) -> TokenClaims {
    TokenClaims {
        tenant_id: TenantId(uuid(tenant)),
        run_id: RunId(uuid(run)),
        attempt,
        user_id: UserId(uuid(user)),
        expires_at: in_an_hour(),
    }
}

/// What the server hands to the runner of (run, attempt) triggered by `user` of tenant A.
fn token(run: &str, attempt: u32, user: &str) -> String {
    keys(&SECRET, None).mint(&claims(A_TENANT, run, attempt, user))
}

struct Answer {
    status: StatusCode,
    body: Value,
    request_id: Option<String>,
}

impl World {
    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
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
            body,
            request_id,
        }
    }

    /// `method uri` with `Authorization: Bearer <credential>` and an optional JSON body.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        credential: &str,
        body: Option<Value>,
    ) -> Answer {
        let b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {credential}"));
        self.send(with_body(b, body)).await
    }

    async fn get(&self, uri: &str, credential: &str) -> Answer {
        self.call(Method::GET, uri, credential, None).await
    }

    async fn post(&self, uri: &str, credential: &str, body: Value) -> Answer {
        self.call(Method::POST, uri, credential, Some(body)).await
    }

    /// A started run of `def` triggered by `key`'s user: its id.
    async fn started(&self, def: &str, key: &str) -> String {
        let a = self
            .post(
                &format!("/v1/workflow-definitions/{def}/runs"),
                key,
                json!({}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let id = a.body["id"].as_str().unwrap().to_owned();
        let a = self
            .call(
                Method::POST,
                &format!("/v1/workflow-runs/{id}/start"),
                key,
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        assert_eq!(a.body["attempt"], 1);
        id
    }

    /// The run as tenant A's owner sees it, without the caller-dependent `permissions`.
    async fn run(&self, id: &str) -> Value {
        let mut a = self.get(&format!("/v1/workflow-runs/{id}"), A_OWNER).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body.as_object_mut().unwrap().remove("permissions");
        a.body
    }

    /// Every run of tenant A, as its owner sees them (to prove nothing was created or changed).
    async fn all_runs(&self) -> Value {
        let mut a = self.get("/v1/workflow-runs?limit=100", A_OWNER).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        for r in a.body["items"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("permissions");
        }
        a.body
    }

    fn store_calls(&self) -> usize {
        self.store_calls.load(Ordering::SeqCst)
    }
}

fn with_body(mut b: axum::http::request::Builder, body: Option<Value>) -> Request<Body> {
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    b.body(body).unwrap()
}

fn assert_error(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["code"], code, "{}", a.body);
    assert!(a.body["detail"].is_string(), "{}", a.body);
    assert_eq!(
        a.body["request_id"].as_str(),
        a.request_id.as_deref(),
        "{}",
        a.body
    );
}

fn outputs(run: &Value) -> Vec<String> {
    run["outputs"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------------------------- the three calls

/// RTOK-2, RTOK-1: a token reads its own run, writes an output and posts the callback, acting
/// as the triggerer (a `USER` with a grant: its role and grants are looked up), assumed; the
/// callback without `attempt` reports on the token's attempt (`updated`, CB-7).
#[tokio::test]
async fn rtok_2_the_three_calls_succeed_on_the_own_run() {
    let w = world();
    let id = w.started(TRIAGE, A_LINUS).await;
    let t = token(&id, 1, A_LINUS_ID);

    let a = w.get(&format!("/v1/workflow-runs/{id}"), &t).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["id"], id.as_str());
    assert_eq!(a.body["attempt"], 1);
    assert_eq!(a.body["triggered_by"]["user_id"], A_LINUS_ID);
    // The triggerer's own permissions (its read-write grant), not an admin's.
    assert_eq!(a.body["permissions"]["can_write"], true, "{}", a.body);

    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/outputs"),
            &t,
            json!({"name": "result.md"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);

    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body, json!({"status": "updated"}));

    let run = w.run(&id).await;
    assert_eq!(run["execution_state"], "COMPLETED");
    assert_eq!(outputs(&run), vec!["result.md".to_owned()]);

    // A second callback of the same token: the first terminal writer won (CB-3).
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t,
            json!({"status": "FAILED", "error": "late"}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "already_terminal"}));
}

/// RTOK-2, VIS-1: the same three calls with a token of ANOTHER run are `not_found`, whether the
/// run exists (same tenant, even one the triggerer could read with its key) or not, and write
/// nothing; a validly signed token of another tenant's user naming this run sees nothing either.
#[tokio::test]
async fn rtok_2_the_three_calls_on_another_run_are_not_found() {
    let w = world();
    let mine = w.started(TRIAGE, A_OWNER).await;
    let other = w.started(TRIAGE, A_OWNER).await;
    let t = token(&mine, 1, A_OWNER_ID);
    let before = w.all_runs().await;

    for target in [other.clone(), Uuid::new_v4().to_string()] {
        let a = w.get(&format!("/v1/workflow-runs/{target}"), &t).await;
        assert_error(&a, StatusCode::NOT_FOUND, "not_found");
        let a = w
            .post(
                &format!("/v1/workflow-runs/{target}/outputs"),
                &t,
                json!({"name": "x.md"}),
            )
            .await;
        assert_error(&a, StatusCode::NOT_FOUND, "not_found");
        let a = w
            .post(
                &format!("/v1/workflow-runs/{target}/callback"),
                &t,
                json!({"status": "COMPLETED", "attempt": 1}),
            )
            .await;
        assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    }
    // Tenant B's owner, in a token naming tenant A's run (only a holder of the secret could
    // make one): the run is not in B's tenant.
    let b = keys(&SECRET, None).mint(&claims(B_TENANT, &other, 1, B_OWNER_ID));
    let a = w.get(&format!("/v1/workflow-runs/{other}"), &b).await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    let a = w
        .post(
            &format!("/v1/workflow-runs/{other}/callback"),
            &b,
            json!({"status": "FAILED"}),
        )
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");

    assert_eq!(w.all_runs().await, before);
}

// ---------------------------------------------------------------------- everything else: 403

/// One request per operation of the router, on `run` (its own run) and tenant A's ids, with a
/// body the route accepts, so only the credential can refuse it.
fn every_other_route(
    run: &str,
    version: &str,
) -> Vec<(Method, String, &'static str, Option<Value>)> {
    vec![
        (
            Method::GET,
            "/v1/workflow-runs".into(),
            "/v1/workflow-runs",
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/workflow-runs/{run}"),
            "/v1/workflow-runs/{run_id}",
            Some(json!({"name": "renamed"})),
        ),
        (
            Method::DELETE,
            format!("/v1/workflow-runs/{run}"),
            "/v1/workflow-runs/{run_id}",
            None,
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/start"),
            "/v1/workflow-runs/{run_id}/start",
            None,
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/stop"),
            "/v1/workflow-runs/{run_id}/stop",
            None,
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/retry"),
            "/v1/workflow-runs/{run_id}/retry",
            None,
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/resume"),
            "/v1/workflow-runs/{run_id}/resume",
            None,
        ),
        (
            Method::GET,
            format!("/v1/workflow-runs/{run}/history"),
            "/v1/workflow-runs/{run_id}/history",
            None,
        ),
        (
            Method::GET,
            "/v1/workflow-runs/summary".to_owned(),
            "/v1/workflow-runs/summary",
            None,
        ),
        (
            Method::GET,
            "/v1/workflow-definitions".to_owned(),
            "/v1/workflow-definitions",
            None,
        ),
        (
            Method::PUT,
            format!("/v1/workflow-definitions/{TRIAGE}"),
            "/v1/workflow-definitions/{definition_id}",
            Some(json!({"name": "by-token", "is_active": true, "approval_required": false})),
        ),
        (
            Method::DELETE,
            format!("/v1/workflow-definitions/{TRIAGE}"),
            "/v1/workflow-definitions/{definition_id}",
            None,
        ),
        (
            Method::POST,
            format!("/v1/workflow-definitions/{TRIAGE}/instantiate"),
            "/v1/workflow-definitions/{definition_id}/instantiate",
            Some(json!({"parent_path_part_id": Uuid::new_v4()})),
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/clone"),
            "/v1/workflow-runs/{run_id}/clone",
            Some(json!({"include_inputs": true})),
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/approval"),
            "/v1/workflow-runs/{run_id}/approval",
            Some(json!({"state": "approved"})),
        ),
        (
            Method::POST,
            format!("/v1/workflow-runs/{run}/inputs"),
            "/v1/workflow-runs/{run_id}/inputs",
            Some(json!({"name": "upload.txt"})),
        ),
        (
            Method::GET,
            format!("/v1/workflow-runs/{run}/thread-gate"),
            "/v1/workflow-runs/{run_id}/thread-gate",
            None,
        ),
        (
            Method::PUT,
            format!("/v1/document-versions/{version}/ingestion"),
            "/v1/document-versions/{version_id}/ingestion",
            Some(json!({"status": "completed"})),
        ),
        (
            Method::POST,
            "/v1/workflow-definitions".into(),
            "/v1/workflow-definitions",
            Some(
                json!({"name": "by-token", "parent_path_part_id": SHARED, "approval_required": false}),
            ),
        ),
        (
            Method::GET,
            format!("/v1/workflow-definitions/{TRIAGE}"),
            "/v1/workflow-definitions/{definition_id}",
            None,
        ),
        (
            Method::GET,
            format!("/v1/workflow-definitions/{TRIAGE}/runs"),
            "/v1/workflow-definitions/{definition_id}/runs",
            None,
        ),
        (
            Method::POST,
            format!("/v1/workflow-definitions/{TRIAGE}/runs"),
            "/v1/workflow-definitions/{definition_id}/runs",
            Some(json!({"name": "by-token"})),
        ),
    ]
}

/// RTOK-2, ERR-2: every route of the router but the three runner calls answers 403
/// `forbidden` to a valid token, even on its own run and with the triggerer an OWNER, and
/// writes nothing. The list is checked against the OpenAPI document, so a new route must be
/// classified here.
#[tokio::test]
async fn rtok_2_every_other_route_is_forbidden() {
    let w = world();
    // A run with an upload (its version id for the ingestion route), then started.
    let a = w
        .post(
            &format!("/v1/workflow-definitions/{TRIAGE}/runs"),
            A_OWNER,
            json!({}),
        )
        .await;
    let id = a.body["id"].as_str().unwrap().to_owned();
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/inputs"),
            A_OWNER,
            json!({"name": "in.txt", "ingestion_status": "completed"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let version = a.body["version_path_part_id"].as_str().unwrap().to_owned();
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/start"),
            A_OWNER,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let t = token(&id, 1, A_OWNER_ID);
    let before = w.all_runs().await;

    let routes = every_other_route(&id, &version);
    for (method, uri, _, body) in &routes {
        let a = w.call(method.clone(), uri, &t, body.clone()).await;
        assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    }
    // Another run's id changes nothing: the route alone refuses.
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{}/stop", Uuid::new_v4()),
            &t,
            None,
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(w.all_runs().await, before);
    let a = w
        .get(&format!("/v1/workflow-definitions/{TRIAGE}"), A_OWNER)
        .await;
    assert_eq!(a.status, StatusCode::OK);

    // Every operation of the OpenAPI document is either one of the three or in the list.
    let doc = serde_json::to_value(workflow_http::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let mut classified: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, _, p, _)| (m.to_string(), (*p).to_owned()))
        .collect();
    for (m, p) in [
        ("GET", "/v1/workflow-runs/{run_id}"),
        ("POST", "/v1/workflow-runs/{run_id}/outputs"),
        ("POST", "/v1/workflow-runs/{run_id}/callback"),
    ] {
        classified.insert((m.to_owned(), p.to_owned()));
    }
    assert_eq!(documented, classified);
    // The document tells clients what a token may do.
    let bearer = doc["components"]["securitySchemes"]["bearerAuth"]["description"]
        .as_str()
        .unwrap();
    assert!(bearer.contains("callback token"), "{bearer}");
}

/// RTOK-2, APPROVE-5: a token never approves, even the token of an OWNER's run that the
/// token itself completed; the run stays `pending`.
#[tokio::test]
async fn rtok_2_approve_with_a_token_is_forbidden() {
    let w = world();
    let id = w.started(SUMMARISE, A_OWNER).await;
    let t = token(&id, 1, A_OWNER_ID);
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));
    let before = w.run(&id).await;
    assert_eq!(before["approval_state"], "pending");
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/approval"),
            &t,
            json!({"state": "approved"}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(w.run(&id).await, before);
}

// ------------------------------------------------------------------------------- RTOK-3: 401

/// RTOK-3, ERR-2: forged (other keys), altered (a byte of the claims, of the signature),
/// claims re-pointed at another tenant with the signature kept, another tenant's signature on
/// these claims, truncated, expired, a validly signed token naming the run in another tenant,
/// and a token of a user that no longer exists: every one is 401 `unauthorized` on each of
/// the three calls, and nothing is written.
#[tokio::test]
async fn rtok_3_every_refused_token_is_unauthorized_and_writes_nothing() {
    let w = world();
    let id = w.started(TRIAGE, A_OWNER).await;
    let good = token(&id, 1, A_OWNER_ID);
    let (body, sig) = good.rsplit_once('.').unwrap();
    let before = w.all_runs().await;

    let flip = |s: &str, at: usize| -> String {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    // The same claims for tenant B (signed with B's key): its claims with A's signature, and
    // A's claims with its signature.
    let for_b = keys(&SECRET, None).mint(&claims(B_TENANT, &id, 1, A_OWNER_ID));
    let (b_body, b_sig) = for_b.rsplit_once('.').unwrap();
    let mut expired = claims(A_TENANT, &id, 1, A_OWNER_ID);
    expired.expires_at = chrono::Utc::now().timestamp() - 1;

    let refused: Vec<(&str, String)> = vec![
        (
            "forged with other keys",
            keys(&OTHER_SECRET, None).mint(&claims(A_TENANT, &id, 1, A_OWNER_ID)),
        ),
        (
            "a byte of the claims altered",
            flip(&good, "wrt1.".len() + 10),
        ),
        (
            "a byte of the signature altered",
            flip(&good, good.len() - 5),
        ),
        (
            "claims naming tenant B, A's signature",
            format!("{b_body}.{sig}"),
        ),
        (
            "tenant B's signature on A's claims",
            format!("{body}.{b_sig}"),
        ),
        (
            "truncated by one character",
            good[..good.len() - 1].to_owned(),
        ),
        ("truncated to its claims", body.to_owned()),
        ("truncated to its claims and a dot", format!("{body}.")),
        ("only the prefix", "wrt1.".to_owned()),
        ("expired", keys(&SECRET, None).mint(&expired)),
        (
            "validly signed, naming the run in tenant B (A's user is not in B)",
            for_b.clone(),
        ),
        (
            "a user that no longer exists",
            token(&id, 1, &Uuid::new_v4().to_string()),
        ),
    ];
    for (what, t) in &refused {
        for (method, path, body) in [
            (Method::GET, format!("/v1/workflow-runs/{id}"), None),
            (
                Method::POST,
                format!("/v1/workflow-runs/{id}/outputs"),
                Some(json!({"name": "x.md"})),
            ),
            (
                Method::POST,
                format!("/v1/workflow-runs/{id}/callback"),
                Some(json!({"status": "COMPLETED"})),
            ),
            // A refused token is 401 on the other routes too, not 403.
            (Method::POST, format!("/v1/workflow-runs/{id}/stop"), None),
        ] {
            let a = w.call(method, &path, t, body).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {}", a.body);
            assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    assert_eq!(w.all_runs().await, before);
    // And the genuine token still works.
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &good,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));
}

/// RTOK-3: a router configured without token keys treats a token as an unknown key: 401.
#[tokio::test]
async fn rtok_3_without_a_verifier_a_token_is_unauthorized() {
    let w = world_with(None);
    let id = w.started(TRIAGE, A_OWNER).await;
    let t = token(&id, 1, A_OWNER_ID);
    let a = w.get(&format!("/v1/workflow-runs/{id}"), &t).await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(w.run(&id).await["execution_state"], "IN_PROGRESS");
}

/// RTOK-3, CB-4, RETRY-1: after a retry, the callback of attempt 1's token WITHOUT an
/// `attempt` in its body answers `stale_attempt` and leaves the run unchanged; its output is
/// refused with 409 `conflict` (it must not land among attempt 2's outputs); a body `attempt`
/// other than the token's is 403 `forbidden`. Attempt 2's token then writes and finishes.
#[tokio::test]
async fn rtok_3_cb_4_a_superseded_attempt_is_stale_after_a_retry() {
    let w = world();
    let id = w.started(TRIAGE, A_OWNER).await;
    let t1 = token(&id, 1, A_OWNER_ID);
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t1,
            json!({"status": "FAILED", "error": "boom"}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));
    let a = w
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/retry"),
            A_OWNER,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(a.body["attempt"], 2);
    let before = w.run(&id).await;
    assert_eq!(before["execution_state"], "IN_PROGRESS");

    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t1,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body, json!({"status": "stale_attempt"}));
    // With its own attempt spelled out: the same.
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t1,
            json!({"status": "COMPLETED", "attempt": 1}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "stale_attempt"}));
    // Claiming the current attempt with attempt 1's token.
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t1,
            json!({"status": "COMPLETED", "attempt": 2}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/outputs"),
            &t1,
            json!({"name": "late.md"}),
        )
        .await;
    assert_error(&a, StatusCode::CONFLICT, "conflict");
    assert_eq!(w.run(&id).await, before);
    // Reading its run stays allowed (decision: reads are harmless).
    let a = w.get(&format!("/v1/workflow-runs/{id}"), &t1).await;
    assert_eq!(a.status, StatusCode::OK);

    let t2 = token(&id, 2, A_OWNER_ID);
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/outputs"),
            &t2,
            json!({"name": "result.md"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &t2,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));
    let run = w.run(&id).await;
    assert_eq!(run["execution_state"], "COMPLETED");
    assert_eq!(outputs(&run), vec!["result.md".to_owned()]);
}

// ------------------------------------------------------------------------------ RTOK-4

/// RTOK-4: a refused token (bad signature, malformed, expired) is refused before any store
/// call; a good one reads the store only after its signature verified.
#[tokio::test]
async fn rtok_4_verification_reads_no_store_row() {
    let w = world();
    let id = w.started(TRIAGE, A_OWNER).await;
    let mut expired = claims(A_TENANT, &id, 1, A_OWNER_ID);
    expired.expires_at = chrono::Utc::now().timestamp() - 60;
    for t in [
        keys(&OTHER_SECRET, None).mint(&claims(A_TENANT, &id, 1, A_OWNER_ID)),
        keys(&SECRET, None).mint(&expired),
        "wrt1.not-a-token".to_owned(),
    ] {
        let n = w.store_calls();
        let a = w.get(&format!("/v1/workflow-runs/{id}"), &t).await;
        assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(w.store_calls(), n, "a refused token read the store");
    }
    let n = w.store_calls();
    let a = w
        .get(
            &format!("/v1/workflow-runs/{id}"),
            &token(&id, 1, A_OWNER_ID),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(w.store_calls() > n);
}

/// RTOK-4: after a rotation (`TokenKeys::new(new, Some(old))`), a token minted with the previous
/// secret still works; once the previous secret is dropped it is refused.
#[tokio::test]
async fn rtok_4_a_token_of_the_previous_secret_works_after_rotation() {
    let w = world_with(Some(keys(&SECRET, Some(&OLD_SECRET))));
    let id = w.started(TRIAGE, A_OWNER).await;
    let old = keys(&OLD_SECRET, None).mint(&claims(A_TENANT, &id, 1, A_OWNER_ID));
    let a = w.get(&format!("/v1/workflow-runs/{id}"), &old).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Tokens minted after the rotation verify too.
    let new = token(&id, 1, A_OWNER_ID);
    let a = w.get(&format!("/v1/workflow-runs/{id}"), &new).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = w
        .post(
            &format!("/v1/workflow-runs/{id}/callback"),
            &old,
            json!({"status": "COMPLETED"}),
        )
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));

    let w = world_with(Some(keys(&SECRET, None)));
    let id = w.started(TRIAGE, A_OWNER).await;
    let old = keys(&OLD_SECRET, None).mint(&claims(A_TENANT, &id, 1, A_OWNER_ID));
    let a = w.get(&format!("/v1/workflow-runs/{id}"), &old).await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
}

// --------------------------------------------------------------------------- the cookie

/// RTOK-2, RTOK-3: a token sent as the `ks_uat` cookie is the same credential as a Bearer
/// token: the three calls on its run work, other routes are 403, a forged one is 401.
#[tokio::test]
async fn rtok_2_a_token_in_the_ks_uat_cookie_behaves_as_bearer() {
    let w = world();
    let id = w.started(TRIAGE, A_OWNER).await;
    let t = token(&id, 1, A_OWNER_ID);
    let cookie = |method: Method, path: String, cred: &str, body: Option<Value>| {
        with_body(
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::COOKIE, format!("theme=dark; ks_uat={cred}")),
            body,
        )
    };
    let a = w
        .send(cookie(
            Method::GET,
            format!("/v1/workflow-runs/{id}"),
            &t,
            None,
        ))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = w
        .send(cookie(
            Method::POST,
            format!("/v1/workflow-runs/{id}/stop"),
            &t,
            None,
        ))
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "forbidden");
    let forged = keys(&OTHER_SECRET, None).mint(&claims(A_TENANT, &id, 1, A_OWNER_ID));
    let a = w
        .send(cookie(
            Method::POST,
            format!("/v1/workflow-runs/{id}/callback"),
            &forged,
            Some(json!({"status": "COMPLETED"})),
        ))
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = w
        .send(cookie(
            Method::POST,
            format!("/v1/workflow-runs/{id}/callback"),
            &t,
            Some(json!({"status": "COMPLETED"})),
        ))
        .await;
    assert_eq!(a.body, json!({"status": "updated"}));
}
