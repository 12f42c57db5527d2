//! One handler per operation of SPEC section 7, by area: [`runs`] (the run lifecycle and the
//! run lists), [`definitions`] and [`host`] (the host's and runners' extras, liveness, the
//! fallback). Each handler parses (the extractors and parsers of [`crate::extract`]), then makes
//! ONE trip to the blocking pool ([`call`], or [`call_runner`] for the three calls a runner's
//! callback token may make, RTOK-2) that authenticates the credential, calls the engine and
//! renders the answer, so a request holds a blocking thread once and never blocks the async
//! runtime. Handlers decide nothing about the lifecycle: every rule is the engine's, except one
//! check on a callback token's attempt before an output is written (see `host::add_output`).

pub(crate) mod definitions;
pub(crate) mod history;
pub(crate) mod host;
pub(crate) mod runs;
pub(crate) mod summary;
pub(crate) mod unserved;

use crate::error::ApiError;
use crate::extract::Credentials;
use crate::render::Renderer;
use crate::wire::WorkflowRunResponse;
use crate::AppState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;
use workflow_core::{Actor, Engine, Error, RunId, Store};
use workflow_runner::token::is_token;
use workflow_runner::{TokenClaims, TokenKeys};

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller: the actor, the user record it came from (whose grants and name the
/// renderer reuses instead of reading them again), and the claims of the callback token it
/// presented, if it presented one (RTOK-2).
pub(crate) struct Caller {
    pub(crate) actor: Actor,
    pub(crate) user: workflow_core::User,
    pub(crate) token: Option<TokenClaims>,
}

/// What a request may be done with a callback token (RTOK-2): nothing, or one of the three
/// runner calls on the run of its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenUse {
    /// Every route but the three runner calls: a token is `forbidden` here.
    Refused,
    /// Read, write an output to, or post the callback of this run: allowed on the token's own
    /// run, `not_found` on any other (VIS-1).
    OnRun(RunId),
}

/// Authenticate on the blocking pool, then run `f` there. A callback token is refused
/// (`forbidden`): only [`call_runner`] lets one through.
pub(crate) async fn call<S, T, F>(state: &AppState<S>, creds: Credentials, f: F) -> ApiResult<T>
where
    S: Store + 'static,
    T: Send + 'static,
    F: FnOnce(&Engine<S>, &Caller) -> ApiResult<T> + Send + 'static,
{
    call_as(state, creds, TokenUse::Refused, f).await
}

/// [`call`] for the three calls a runner makes on `run` (RTOK-2): get it, write an output, post
/// the callback. A callback token is accepted when it names this run.
pub(crate) async fn call_runner<S, T, F>(
    state: &AppState<S>,
    creds: Credentials,
    run: RunId,
    f: F,
) -> ApiResult<T>
where
    S: Store + 'static,
    T: Send + 'static,
    F: FnOnce(&Engine<S>, &Caller) -> ApiResult<T> + Send + 'static,
{
    call_as(state, creds, TokenUse::OnRun(run), f).await
}

async fn call_as<S, T, F>(
    state: &AppState<S>,
    creds: Credentials,
    token_use: TokenUse,
    f: F,
) -> ApiResult<T>
where
    S: Store + 'static,
    T: Send + 'static,
    F: FnOnce(&Engine<S>, &Caller) -> ApiResult<T> + Send + 'static,
{
    let engine = state.engine.clone();
    let tokens = state.config.tokens.clone();
    let permit = state
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the engine is shutting down"))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let caller = authenticate(&engine, tokens.as_deref(), &creds, token_use)?;
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

/// The credentials' caller. An API key → its user → the actor; `x-ks-assumed: true` makes it an
/// assumed actor (a runner). A callback token (`wrt1.…`) is verified without reading the store
/// (RTOK-4); then its triggerer, looked up in the token's tenant, becomes the actor, always
/// assumed, and `token_use` decides what it may do (RTOK-2).
pub(crate) fn authenticate<S: Store>(
    engine: &Engine<S>,
    tokens: Option<&TokenKeys>,
    creds: &Credentials,
    token_use: TokenUse,
) -> ApiResult<Caller> {
    if is_token(&creds.key) {
        return authenticate_token(engine, tokens, &creds.key, token_use);
    }
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
    Ok(Caller {
        actor,
        user,
        token: None,
    })
}

/// RTOK-2..4. Every refusal of the token itself (forged, altered, truncated, expired, another
/// tenant's key, no verifier configured, a triggerer that no longer exists) is the same
/// `unauthorized`; a credential shaped like a token is never looked up as an API key.
fn authenticate_token<S: Store>(
    engine: &Engine<S>,
    tokens: Option<&TokenKeys>,
    token: &str,
    token_use: TokenUse,
) -> ApiResult<Caller> {
    let keys = tokens.ok_or_else(ApiError::unauthorized)?;
    let claims = keys.verify(token, engine.now()).map_err(|e| {
        tracing::info!(reason = %e, "callback token refused");
        ApiError::unauthorized()
    })?;
    let user = engine
        .store()
        .user(claims.tenant_id, claims.user_id)
        .map_err(Error::from)?
        .ok_or_else(|| {
            tracing::info!(run = %claims.run_id, "callback token of a user that no longer exists");
            ApiError::unauthorized()
        })?;
    match token_use {
        TokenUse::Refused => {
            return Err(Error::forbidden(
                "a callback token may only read its run, write its outputs and post its callback",
            )
            .into())
        }
        TokenUse::OnRun(run) if run != claims.run_id => {
            return Err(Error::not_found("workflow run", run).into())
        }
        TokenUse::OnRun(_) => {}
    }
    Ok(Caller {
        actor: Actor::of(&user).assumed(),
        user,
        token: Some(claims),
    })
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
