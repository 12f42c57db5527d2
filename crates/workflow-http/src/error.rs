//! SPEC section 6 on the wire: every failure leaves a handler as an [`ApiError`], whose code comes
//! from [`workflow_core::Error::code`] (the one mapping) or, for failures of the HTTP layer
//! itself (bad JSON, bad path id, body too large), from the matching [`ErrorCode`].
//!
//! The body needs the request id, which a handler does not know; so an [`ApiError`] renders to a
//! bodiless response carrying an [`ErrorMark`] extension, and the outer request-id middleware
//! ([`crate::middleware`]) writes the final `{detail, code, request_id}` body. Any other error
//! response that reaches that middleware without a mark (an unknown route, a wrong method, a
//! panic) is rewritten to the same shape, so no plain-text error ever leaves the server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use workflow_core::{Error, ErrorCode};

/// An error answer of the API: a SPEC code and a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The SPEC section 6 code; decides the status.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub detail: String,
}

impl ApiError {
    /// An error of `code` with `detail`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
        }
    }

    /// 422: a field fails validation.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnprocessableEntity, detail)
    }

    /// 401: missing or unknown credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "missing or unknown credentials: send `Authorization: Bearer <api key>` or the `ks_uat` cookie",
        )
    }

    /// 500: a bug on our side.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, detail)
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }
}

/// The status of a code, through [`ErrorCode::http_status`].
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let detail = match (&e, code) {
            // Infrastructure details stay in the log, not on the wire.
            (_, ErrorCode::InternalError) => {
                tracing::error!(error = %e, "internal error");
                "internal error".to_owned()
            }
            (Error::Store(s), ErrorCode::ServiceUnavailable) => {
                format!("the store is busy, retry: {}", s.message)
            }
            _ => e.to_string(),
        };
        ApiError { code, detail }
    }
}

/// Marks a response as an API error; the middleware renders the body from it.
#[derive(Clone, Debug)]
pub(crate) struct ErrorMark(pub(crate) ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        r.extensions_mut().insert(ErrorMark(self));
        r
    }
}

/// The SPEC section 6 error body.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable detail.
    pub detail: String,
    /// One of `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `run_busy`,
    /// `payload_too_large`, `unprocessable_entity`, `service_unavailable`, `internal_error`,
    /// `not_implemented`.
    pub code: String,
    /// The request id, also sent as the `x-request-id` header.
    pub request_id: String,
}

/// The code for an unmarked error status (a response produced outside our handlers).
pub(crate) fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        422 => ErrorCode::UnprocessableEntity,
        503 => ErrorCode::ServiceUnavailable,
        501 => ErrorCode::NotImplemented,
        500..=599 => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    }
}
