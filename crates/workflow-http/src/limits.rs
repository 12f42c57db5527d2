//! SEC-2 on the request path: a bound on requests handled at once (tower's global concurrency
//! limit behind a load shedder: past the bound a request is refused at once rather than queued)
//! and a request timeout. Both answer 503 `service_unavailable` with `Retry-After`; the layers
//! sit inside the request-id middleware, which renders the SPEC error body.

use crate::{ApiError, HttpConfig};
use axum::error_handling::HandleErrorLayer;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Duration;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use workflow_core::ErrorCode;

/// The seconds a refused client is told to wait (`Retry-After`).
pub(crate) const RETRY_AFTER_SECONDS: u64 = 1;

/// The limits of one router.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    request_timeout: Option<Duration>,
    max_in_flight: Option<usize>,
}

impl Limits {
    /// The limits `config` asks for.
    pub(crate) fn of(config: &HttpConfig) -> Self {
        Limits {
            request_timeout: config.request_timeout,
            max_in_flight: config.max_in_flight,
        }
    }

    /// `api` with the timeout inside the in-flight bound (a request that times out frees its
    /// slot), both outside every route and the fallback.
    pub(crate) fn apply(self, mut api: Router) -> Router {
        if let Some(timeout) = self.request_timeout {
            api = api.layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(move |e| refused(e, timeout)))
                    .timeout(timeout),
            );
        }
        if let Some(max) = self.max_in_flight {
            // One semaphore shared by all routes (`Router::layer` clones the layer per route;
            // the global limit's clones share their permits).
            let timeout = self.request_timeout.unwrap_or_default();
            api = api.layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(move |e| refused(e, timeout)))
                    .load_shed()
                    .layer(GlobalConcurrencyLimitLayer::new(max.max(1))),
            );
        }
        api
    }
}

/// The 503 of a refused or timed-out request.
async fn refused(error: tower::BoxError, timeout: Duration) -> Response {
    let detail = if error.is::<tower::timeout::error::Elapsed>() {
        format!(
            "the request took longer than {} ms and was abandoned; retry later",
            timeout.as_millis()
        )
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        "the server is handling as many requests as it allows; retry later".to_owned()
    } else {
        tracing::error!(error = %error, "request layer failed");
        return ApiError::internal("the request could not be completed").into_response();
    };
    let mut response = ApiError::new(ErrorCode::ServiceUnavailable, detail).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
