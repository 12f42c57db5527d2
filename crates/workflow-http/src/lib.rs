//! # workflow-http
//!
//! The HTTP API of the workflow-runs engine (SPEC sections 6 and 7), wire-compatible with the
//! Knowledge Stack `ksapi` client 3.18.2, as an axum [`Router`] a host service can mount. It is a
//! library over any [`workflow_core::Store`] and links no concrete store; the standalone
//! `workflow-server` binary (SPEC section 8: SQLite, fixtures, the simulated runner) is the
//! `workflow-server` crate, built on this one.
//!
//! ## Design
//!
//! * This crate holds no lifecycle rule: every operation is ONE engine call, which checks,
//!   decides and commits atomically (creating a definition without an instruction included: the
//!   engine makes the empty `instruction.md` in the same catalog write). A handler parses (the
//!   extractors and parsers of [`extract`], whose every rejection is a SPEC error),
//!   authenticates, makes that call on the synchronous [`workflow_core::Engine`] and renders
//!   ([`wire`]). The HTTP layer's own checks are about its surface, not the lifecycle: the
//!   ingestion-status endpoint (a host call, `Engine::set_upload_ingestion`, which takes no
//!   actor) needs an OWNER/ADMIN key, and the `owner_id` list filter accepts only the caller's
//!   own id (it becomes the engine's `mine`); a callback token's attempt is passed to the
//!   engine, whose rules refuse a superseded attempt. Authentication, the engine call and the rendering
//!   (which reads the store) run together in ONE `tokio::task::spawn_blocking` per request, so
//!   the async runtime never blocks on the store.
//! * Credentials: `Authorization: Bearer <api key>` or the `ks_uat` cookie; the key is looked up
//!   with [`workflow_core::Store::user_by_api_key`] and the user becomes the
//!   [`workflow_core::Actor`]. A runner acts *assumed* (SPEC section 1): with the callback token
//!   of its dispatch (RTOK-1..4, verified with [`HttpConfig::tokens`] without a store read; it
//!   acts as the triggerer on three calls of its own run only), or by sending the run
//!   triggerer's key (or an admin's) with the header `x-ks-assumed: true`. Assumed actors can
//!   report callbacks and write outputs, never approve. Which routes a token may use is decided
//!   by the handler's choice of `call` (none) or `call_runner` (its run's get, outputs,
//!   callback), so a new route refuses tokens unless it opts in.
//! * Errors: every failure is an [`ApiError`] whose code comes from
//!   [`workflow_core::Error::code`] (the one mapping), rendered by the outermost middleware as
//!   `{detail, code, request_id}` with an `x-request-id` header (taken from the request when
//!   given, else generated). Axum's own rejections, unknown routes, wrong methods and panics
//!   (a catch-panic layer, plus the blocking pool's `JoinError`) come out in the same shape.
//! * One `tracing` span per request (`method`, `path`, `request_id`, `status`, `latency_us`).
//! * `GET /openapi.json` serves an OpenAPI 3 document generated from the handlers' and wire
//!   types' annotations (utoipa), so it cannot drift from what is served.
//!
//! ## Mounting the router
//!
//! ```
//! use std::sync::Arc;
//! use workflow_core::Engine;
//! use workflow_http::{router, HttpConfig};
//! use workflow_store_memory::MemoryStore;
//!
//! let engine = Arc::new(Engine::new(MemoryStore::new()));
//! let api = router(engine, HttpConfig::default());
//! // A host merges it into its own app (all routes live under /v1, plus /openapi.json).
//! let app: axum::Router = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "host" }))
//!     .merge(api);
//! # let _ = app;
//! ```

mod error;
pub mod extract;
mod handlers;
mod limits;
mod middleware;
mod openapi;
mod render;
mod watch;
pub mod wire;

pub use error::{ApiError, ErrorBody};
pub use middleware::REQUEST_ID_HEADER;
pub use openapi::openapi;
pub use watch::{Watchers, MAX_WAIT_SECONDS};

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use workflow_core::{Engine, Store};
use workflow_runner::TokenKeys;

/// Tunables of the router.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Largest accepted request body in bytes; larger → 413 `payload_too_large`.
    pub body_limit: usize,
    /// How many engine calls may run on the blocking pool at once; further requests wait
    /// their turn (asynchronously). Bounding this keeps a burst from spawning hundreds of
    /// blocking threads that only contend for the store (the SQLite store opens one more reader
    /// connection for each read that overlaps another).
    pub max_concurrent_engine_calls: usize,
    /// The keys that verify runners' callback tokens (RTOK-2..4): a Bearer credential (or
    /// `ks_uat` cookie) starting with `wrt1.` is verified with them, and acts as the run's
    /// triggerer, assumed, on exactly three calls of its own run. `None` (the default): no token
    /// is accepted (401).
    pub tokens: Option<Arc<TokenKeys>>,
    /// A request still unanswered after this long answers 503 `service_unavailable` with
    /// `Retry-After` (SEC-2); its engine call, if one started, still completes. Keep it above
    /// the longest long-poll wait. `None` (the default): no limit; `workflow-server` sets it
    /// from `--request-timeout-ms`.
    pub request_timeout: Option<Duration>,
    /// Requests handled at once; one more answers 503 `service_unavailable` with `Retry-After`
    /// at once instead of queueing (SEC-2). A long-poll wait holds its place while it waits.
    /// `None` (the default): no limit; `workflow-server` sets it from `--max-in-flight`.
    pub max_in_flight: Option<usize>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HttpConfig {
            body_limit: 4 * 1024 * 1024,
            max_concurrent_engine_calls: (cores * 2).clamp(2, 8),
            tokens: None,
            request_timeout: None,
            max_in_flight: None,
        }
    }
}

/// Two configurations are equal when their tunables are and they share the same token keys
/// (the same `Arc`, or none): secrets are not compared.
impl PartialEq for HttpConfig {
    fn eq(&self, other: &Self) -> bool {
        self.body_limit == other.body_limit
            && self.max_concurrent_engine_calls == other.max_concurrent_engine_calls
            && self.request_timeout == other.request_timeout
            && self.max_in_flight == other.max_in_flight
            && match (&self.tokens, &other.tokens) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for HttpConfig {}

/// What every handler shares: the engine, the configuration, and the permits of
/// [`HttpConfig::max_concurrent_engine_calls`].
pub struct AppState<S> {
    /// The engine.
    pub engine: Arc<Engine<S>>,
    /// The configuration.
    pub config: HttpConfig,
    pub(crate) permits: Arc<tokio::sync::Semaphore>,
    /// The runs being waited on (WATCH-1).
    pub(crate) watchers: Watchers,
}

impl<S> AppState<S> {
    /// The state of a router over `engine`.
    pub fn new(engine: Arc<Engine<S>>, config: HttpConfig) -> Self {
        let permits = Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_engine_calls.max(1),
        ));
        AppState {
            engine,
            config,
            permits,
            watchers: Watchers::default(),
        }
    }
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            engine: self.engine.clone(),
            config: self.config.clone(),
            permits: self.permits.clone(),
            watchers: self.watchers.clone(),
        }
    }
}

/// The API router of SPEC section 7 over `engine`, with its layers (request id, tracing span,
/// error rendering, catch-panic, body limit). Mount it with [`Router::merge`] or
/// [`Router::nest`]. It has a fallback (unknown routes answer 404 `not_found` in the SPEC
/// shape), so a host whose own router also has a fallback should nest it under a prefix.
pub fn router<S: Store + 'static>(engine: Arc<Engine<S>>, config: HttpConfig) -> Router {
    router_with_watchers(engine, config, Watchers::new())
}

/// [`router`] with `watchers` as its registry of long-polling requests (WATCH-1), which it
/// subscribes to the engine's commits ([`Engine::add_commit_observer`]); keep a clone to see
/// how many requests wait (metrics, tests).
pub fn router_with_watchers<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    config: HttpConfig,
    watchers: Watchers,
) -> Router {
    let body_limit = config.body_limit;
    let limits = limits::Limits::of(&config);
    engine.add_commit_observer(watchers.observer());
    let mut state = AppState::new(engine, config);
    state.watchers = watchers;
    let api = routes::<S>()
        .merge(handlers::unserved::routes::<S>())
        .with_state(state)
        .route("/openapi.json", get(openapi_json))
        .route("/healthz", get(handlers::host::healthz))
        .fallback(handlers::host::fallback)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked");
                ApiError::internal("the request could not be completed").into_response()
            },
        ));
    // Inside the request-id middleware, so a 503 of the limits has the SPEC error shape.
    limits
        .apply(api)
        .layer(axum::middleware::from_fn(middleware::request_context))
}

fn routes<S: Store + 'static>() -> Router<AppState<S>> {
    use handlers::{definitions::*, host::*, runs::*};
    Router::new()
        .route("/v1/workflow-runs", get(list_runs::<S>))
        .route(
            "/v1/workflow-runs/summary",
            get(handlers::summary::runs_summary::<S>),
        )
        .route(
            "/v1/workflow-runs/{run_id}",
            get(get_run::<S>)
                .patch(update_run::<S>)
                .delete(delete_run::<S>),
        )
        .route("/v1/workflow-runs/{run_id}/start", post(start_run::<S>))
        .route("/v1/workflow-runs/{run_id}/stop", post(stop_run::<S>))
        .route("/v1/workflow-runs/{run_id}/callback", post(callback::<S>))
        .route("/v1/workflow-runs/{run_id}/retry", post(retry_run::<S>))
        .route("/v1/workflow-runs/{run_id}/resume", post(resume_run::<S>))
        .route("/v1/workflow-runs/{run_id}/clone", post(clone_run::<S>))
        .route(
            "/v1/workflow-runs/{run_id}/approval",
            post(approve_run::<S>),
        )
        .route("/v1/workflow-runs/{run_id}/inputs", post(add_upload::<S>))
        .route("/v1/workflow-runs/{run_id}/outputs", post(add_output::<S>))
        .route(
            "/v1/workflow-runs/{run_id}/history",
            get(handlers::history::run_history::<S>),
        )
        .route(
            "/v1/workflow-runs/{run_id}/thread-gate",
            get(thread_gate::<S>),
        )
        .route(
            "/v1/document-versions/{version_id}/ingestion",
            put(set_ingestion::<S>),
        )
        .route(
            "/v1/workflow-definitions",
            post(create_definition::<S>).get(list_definitions::<S>),
        )
        .route(
            "/v1/workflow-definitions/{definition_id}",
            get(get_definition::<S>)
                .put(put_definition::<S>)
                .delete(delete_definition::<S>),
        )
        .route(
            "/v1/workflow-definitions/{definition_id}/instantiate",
            post(instantiate_definition::<S>),
        )
        .route(
            "/v1/workflow-definitions/{definition_id}/runs",
            post(create_run::<S>).get(list_definition_runs::<S>),
        )
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}
