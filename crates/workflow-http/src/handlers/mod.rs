//! One handler per operation of SPEC section 7, by area: [`runs`] (the run lifecycle and the
//! run lists), [`definitions`] and [`host`] (the host's and runners' extras, liveness, the
//! fallback). Each handler parses (the extractors and parsers of [`crate::extract`]), then makes
//! ONE trip to the blocking pool ([`call`]) that authenticates the key, calls the engine and
//! renders the answer, so a request holds a blocking thread once and never blocks the async
//! runtime. Handlers decide nothing about the lifecycle: every rule is the engine's.

pub(crate) mod definitions;
pub(crate) mod host;
pub(crate) mod runs;

use crate::error::ApiError;
use crate::extract::Credentials;
use crate::render::Renderer;
use crate::wire::WorkflowRunResponse;
use crate::AppState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;
use workflow_core::{Actor, Engine, Error, Store};

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller: the actor, and the user record it came from (whose grants and
/// name the renderer reuses instead of reading them again).
pub(crate) struct Caller {
    pub(crate) actor: Actor,
    pub(crate) user: workflow_core::User,
}

/// Authenticate on the blocking pool, then run `f` there.
pub(crate) async fn call<S, T, F>(state: &AppState<S>, creds: Credentials, f: F) -> ApiResult<T>
where
    S: Store + 'static,
    T: Send + 'static,
    F: FnOnce(&Engine<S>, &Caller) -> ApiResult<T> + Send + 'static,
{
    let engine = state.engine.clone();
    let permit = state
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the engine is shutting down"))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let caller = authenticate(&engine, &creds)?;
        f(&engine, &caller)
    })
    .await
    .map_err(|e| {
        if e.is_panic() {
            tracing::error!("a blocking engine call panicked");
        }
        ApiError::internal("the request could not be completed")
    })?
}

/// API key → user → actor; `x-ks-assumed: true` makes it an assumed actor (a runner).
pub(crate) fn authenticate<S: Store>(engine: &Engine<S>, creds: &Credentials) -> ApiResult<Caller> {
    let user = engine
        .store()
        .user_by_api_key(&creds.key)
        .map_err(Error::from)?
        .ok_or_else(ApiError::unauthorized)?;
    let actor = Actor::of(&user);
    let actor = if creds.assumed {
        actor.assumed()
    } else {
        actor
    };
    Ok(Caller { actor, user })
}

/// A JSON body serialized on the blocking pool (the read paths: the async workers then only
/// move bytes).
pub(crate) struct JsonBytes(axum::body::Bytes);

impl JsonBytes {
    pub(crate) fn of<T: serde::Serialize>(v: &T) -> ApiResult<Self> {
        let mut out = Vec::with_capacity(4096);
        serde_json::to_writer(&mut out, v)
            .map_err(|e| ApiError::internal(format!("serialization: {e}")))?;
        Ok(JsonBytes(out.into()))
    }
}

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

pub(crate) fn location(path: String) -> [(header::HeaderName, HeaderValue); 1] {
    // A path of ASCII and a UUID is always a valid header value.
    let v = HeaderValue::from_str(&path).unwrap_or(HeaderValue::from_static("/"));
    [(header::LOCATION, v)]
}

pub(crate) fn run_location(id: Uuid) -> [(header::HeaderName, HeaderValue); 1] {
    location(format!("/v1/workflow-runs/{id}"))
}

/// The run as `WorkflowRunResponse`; `read` fills the caller's `permissions` (reads only).
pub(crate) fn render_run<S: Store>(
    engine: &Engine<S>,
    caller: &Caller,
    run: &workflow_core::Run,
    read: bool,
) -> ApiResult<WorkflowRunResponse> {
    Ok(Renderer::new(engine, caller).run(run, read)?)
}
