//! Extractors and parsers whose every rejection is an [`ApiError`] of SPEC section 6 (HTTP-3): a
//! path id that is not a UUID, a body that is not JSON or misses a required field → 422; a body
//! over the limit → 413. Unknown JSON fields are ignored (serde's default). The run lists' query
//! string and the create-run form (multipart or JSON) are parsed here too (`query`, `form`), so
//! the handlers only call the engine.

mod form;
pub(crate) mod query;

pub(crate) use form::parse_create_form;
pub(crate) use query::{parse_enum, parse_list_query};

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;
use workflow_core::ErrorCode;

/// The header a runner sets to act as the run's triggerer, assumed (SPEC section 1, CB-6).
pub const ASSUMED_HEADER: &str = "x-ks-assumed";
/// The cookie a browser session sends instead of a bearer key.
pub const COOKIE_NAME: &str = "ks_uat";

/// Credentials as sent: the key (bearer token or `ks_uat` cookie) and whether the caller acts as
/// an agent for the key's user (`x-ks-assumed: true`). Extracted before the body, so a request
/// without credentials is `401` whatever else is wrong with it; the key is looked up in the store
/// later, on the blocking pool, together with the operation.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The API key.
    pub key: String,
    /// True when an agent (a runner) acts as the key's user.
    pub assumed: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let key = bearer.or_else(|| {
            parts
                .headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.trim().split_once('='))
                .find(|(n, v)| *n == COOKIE_NAME && !v.is_empty())
                .map(|(_, v)| v.trim_matches('"').to_owned())
        });
        let assumed = parts
            .headers
            .get(ASSUMED_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches!(v.trim(), "true" | "1" | "True"));
        match key {
            Some(key) => Ok(Credentials { key, assumed }),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// A UUID path parameter (the route's only one). Not a UUID → 422 (HTTP-3).
#[derive(Clone, Copy, Debug)]
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::unprocessable(format!("path: {e}")))?;
        Uuid::parse_str(&raw)
            .map(PathId)
            .map_err(|_| ApiError::unprocessable(format!("path id {raw:?} is not a UUID")))
    }
}

/// Read the body within the configured limit (`DefaultBodyLimit`): over it → 413.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "request body is over the size limit",
            )
        } else {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("could not read the body: {e}"),
            )
        }
    })
}

/// Parse a JSON body (whatever the content type says): invalid → 422.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::unprocessable(format!("body: {e}")))
}

/// A required JSON body.
#[derive(Clone, Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::unprocessable("body: a JSON object is required"));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// An optional JSON body: empty (or `null`) means the default.
#[derive(Clone, Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        let v: Option<T> = parse_json(&bytes)?;
        Ok(OptionalJsonBody(v.unwrap_or_default()))
    }
}
