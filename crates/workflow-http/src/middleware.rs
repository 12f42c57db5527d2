//! The outermost layer: request id, one `tracing` span per request, and the final rendering of
//! every error body as `{detail, code, request_id}` (SPEC section 6).

use crate::error::{code_for_status, status_of, ErrorBody, ErrorMark};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

/// The request-id header, read from the request when given, else generated; always answered.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

fn request_id_of(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// A fresh request id in UUID v4 form: a per-process random seed mixed with a counter
/// (unique within the process, no system call per request).
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| Uuid::new_v4().as_u128());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let bits = seed ^ (u128::from(mix(n)) << 64 | u128::from(mix(n ^ 0x9e37_79b9_7f4a_7c15)));
    uuid::Builder::from_random_bytes(bits.to_be_bytes())
        .into_uuid()
        .to_string()
}

/// Request id, span, error rendering.
pub(crate) async fn request_context(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&req);
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
        status = tracing::field::Empty,
        latency_us = tracing::field::Empty,
    );
    let response = next.run(req).instrument(span.clone()).await;
    let mut response = finish(response, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = response.status().as_u16();
    let latency = started.elapsed().as_micros() as u64;
    span.record("status", status);
    span.record("latency_us", latency);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_us = latency, "request failed");
        } else {
            tracing::info!(status, latency_us = latency, "request");
        }
    });
    response
}

async fn finish(mut response: Response, request_id: &str) -> Response {
    if let Some(ErrorMark(e)) = response.extensions_mut().remove::<ErrorMark>() {
        return error_response(
            response,
            status_of(e.code),
            e.code.as_str(),
            e.detail,
            request_id,
        );
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        // A response made outside our handlers (wrong method, a layer's rejection, a panic).
        let code = code_for_status(status);
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 4096)
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        let response = Response::from_parts(parts, Body::empty());
        return error_response(response, status, code.as_str(), text, request_id);
    }
    response
}

fn error_response(
    response: Response,
    status: axum::http::StatusCode,
    code: &str,
    detail: String,
    request_id: &str,
) -> Response {
    let body = ErrorBody {
        detail,
        code: code.to_owned(),
        request_id: request_id.to_owned(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes))
}
