//! The accept loop (SEC-1, SEC-2): each accepted socket is served by hyper's HTTP/1 connection
//! with a request-head timeout (which also ends idle keep-alive connections), every request body
//! has a deadline, and the number of connections served at once is bounded; past the bound a new
//! connection is answered `503` with `Retry-After` and closed, so it never waits unanswered.

use crate::server::app;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;
use workflow_core::{Engine, Store};
use workflow_http::{ErrorBody, HttpConfig};

/// How [`serve_with`] treats connections (SEC-1, SEC-2). The router's own request limits are
/// [`HttpConfig::request_timeout`] and [`HttpConfig::max_in_flight`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// `GET /metrics` and request latencies (DISP-7), when given.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// A connection that has not sent a complete request head within this is closed. The timer
    /// starts when the connection is accepted and again whenever a kept-alive connection waits
    /// for its next request, so this is also the keep-alive idle timeout (SEC-1).
    pub header_timeout: Duration,
    /// A request's whole body must have arrived within this, counted from its head; a body
    /// still arriving then is cut off: the request fails and the connection is closed (SEC-1).
    pub body_timeout: Duration,
    /// Connections served at once; one more is answered `503 service_unavailable` with
    /// `Retry-After` and closed (SEC-2).
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            metrics: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: default_max_connections(),
        }
    }
}

/// The default bound on connections: what the process's open-file limit leaves after a reserve
/// of 256 descriptors (database connections, refusals in progress, logs), between 64 and 4096;
/// 1024 where the limit cannot be read.
pub fn default_max_connections() -> usize {
    match open_file_limit() {
        Some(limit) => usize::try_from(limit.saturating_sub(256))
            .unwrap_or(4096)
            .clamp(64, 4096),
        None => 1024,
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere.
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The seconds a refused client is told to wait before it retries.
const RETRY_AFTER_SECONDS: u64 = 1;
/// Refusals written at once; past it an extra connection is closed without an answer (the
/// bound keeps a flood from turning into as many refusal tasks).
const MAX_REFUSALS: usize = 64;
/// How long a refusal may take (write the answer, wait for the client to close).
const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// The pause after an accept error that is not the client's (out of file descriptors, ...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serve the API on `listener` until `shutdown` resolves, with the connection limits of
/// `options` (SEC-1, SEC-2). On shutdown it stops accepting and waits for in-flight requests to
/// finish (at most the request timeout plus the head timeout).
pub async fn serve_with<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    listener: TcpListener,
    config: HttpConfig,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let drain_limit = options.header_timeout
        + config
            .request_timeout
            .unwrap_or(Duration::from_secs(60))
            .max(options.body_timeout);
    let service = ServiceBuilder::new()
        .layer(RequestBodyDeadlineLayer::new(options.body_timeout))
        .service(app(engine, config, options.metrics.clone()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    let max_connections = options.max_connections.max(1);
    let connections = Arc::new(Semaphore::new(max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_client_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(slot) = connections.clone().try_acquire_owned() else {
            tracing::debug!(%peer, max_connections, "connection limit reached: refusing");
            if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                tokio::spawn(refuse(stream, refusal, max_connections));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = graceful.watch(http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(service.clone()),
        ));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain_limit, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            limit_ms = drain_limit.as_millis() as u64,
            "connections still open after the drain limit; closing them"
        );
    }
    Ok(())
}

/// Accept errors that concern one client only (it went away before it was accepted).
fn is_client_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Answer a connection past the bound: `503 service_unavailable` in the SPEC error shape, with
/// `Retry-After`, then close. The client's own bytes are read until it closes (within
/// [`REFUSAL_TIME`]), so closing does not reset the connection before it read the answer.
async fn refuse(mut stream: TcpStream, _refusal: OwnedSemaphorePermit, max_connections: usize) {
    let request_id = workflow_core::uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_string(&ErrorBody {
        detail: format!(
            "the server is serving as many connections as it allows ({max_connections}); retry later"
        ),
        code: "service_unavailable".to_owned(),
        request_id: request_id.clone(),
    })
    .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: {RETRY_AFTER_SECONDS}\r\nx-request-id: {request_id}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_TIME, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_bound_fits_the_file_limit() {
        let n = default_max_connections();
        assert!((64..=4096).contains(&n), "{n}");
        if let Some(limit) = open_file_limit() {
            assert!(n as u64 <= limit.max(320) - 256, "{n} of {limit}");
        }
    }
}
