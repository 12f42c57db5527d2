//! `GET /metrics` (DISP-7) in the Prometheus text format, with the `prometheus-client` crate:
//!
//! * `workflow_outbox_queued`: pending outbox messages (read at scrape time, capped at 100 000);
//! * `workflow_deliveries_total{adapter, message, outcome}`: delivery attempts by adapter,
//!   message kind (`dispatch`, `cancel`) and outcome (`delivered`, `retry`, `dead`);
//! * `workflow_dead_letters_total{adapter, message}`: dead-lettered messages (DISP-5);
//! * `workflow_runs{state}`: live runs by execution state (read at scrape time);
//! * `workflow_http_request_duration_seconds{method, route, status}`: request latency, by the
//!   route's template (not its ids, so the label set stays small).
//!
//! Every failed delivery is also logged once at `warn` with its run, attempt and reason
//! ([`RelayMetrics`] wraps the logging observer).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;
use workflow_core::{
    Delivery, DispatchError, Engine, ExecutionState, OutboxEntry, OutboxMessage, RelayObserver,
    Store,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    adapter: String,
    message: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeadLabels {
    adapter: String,
    message: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    queued: Gauge,
    deliveries: Family<DeliveryLabels, Counter>,
    dead: Family<DeadLabels, Counter>,
    runs: Family<StateLabels, Gauge>,
    requests: Family<RequestLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics, registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("workflow");
        let queued = Gauge::default();
        registry.register("outbox_queued", "Pending outbox messages", queued.clone());
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by adapter, message kind and outcome",
            deliveries.clone(),
        );
        let dead = Family::<DeadLabels, Counter>::default();
        registry.register(
            "dead_letters",
            "Dead-lettered outbox messages",
            dead.clone(),
        );
        let runs = Family::<StateLabels, Gauge>::default();
        registry.register("runs", "Live runs by execution state", runs.clone());
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_1, 2.5, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            requests.clone(),
        );
        Metrics {
            registry,
            queued,
            deliveries,
            dead,
            runs,
            requests,
        }
    }

    /// The text exposition, with the scrape-time gauges read from `engine`'s store.
    pub fn render<S: Store>(&self, engine: &Engine<S>) -> Result<String, String> {
        let store = engine.store();
        let queued = store
            .outbox_pending(100_000)
            .map_err(|e| e.to_string())?
            .len();
        self.queued.set(i64::try_from(queued).unwrap_or(i64::MAX));
        let counts = store.count_runs_by_state().map_err(|e| e.to_string())?;
        for state in ExecutionState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            self.runs
                .get_or_create(&StateLabels {
                    state: state.as_str().to_owned(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn delivery(&self, adapter: &str, entry: &OutboxEntry, outcome: &str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                adapter: adapter.to_owned(),
                message: kind(entry).to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

fn kind(entry: &OutboxEntry) -> &'static str {
    match entry.message {
        OutboxMessage::Dispatch(_) => "dispatch",
        OutboxMessage::Cancel(_) => "cancel",
    }
}

/// The relay observer of the server: counts every delivery attempt by `adapter` and logs the
/// failed ones (through [`crate::LogRelay`]).
#[derive(Debug)]
pub struct RelayMetrics {
    /// The adapter's label (`local`, `none`, `temporal`).
    pub adapter: &'static str,
    /// Where to count.
    pub metrics: Arc<Metrics>,
}

impl RelayObserver for RelayMetrics {
    fn delivered(&self, entry: &OutboxEntry) {
        self.metrics.delivery(self.adapter, entry, "delivered");
        crate::LogRelay.delivered(entry);
    }

    fn failed(&self, entry: &OutboxEntry, error: &DispatchError, outcome: &Delivery) {
        match outcome {
            Delivery::Dead { .. } => {
                self.metrics.delivery(self.adapter, entry, "dead");
                self.metrics
                    .dead
                    .get_or_create(&DeadLabels {
                        adapter: self.adapter.to_owned(),
                        message: kind(entry).to_owned(),
                    })
                    .inc();
            }
            _ => self.metrics.delivery(self.adapter, entry, "retry"),
        }
        crate::LogRelay.failed(entry, error, outcome);
    }
}

/// Router state of the metrics endpoint and middleware.
pub struct MetricsState<S> {
    /// The engine whose store the scrape-time gauges read.
    pub engine: Arc<Engine<S>>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
}

impl<S> Clone for MetricsState<S> {
    fn clone(&self) -> Self {
        MetricsState {
            engine: self.engine.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// `GET /metrics`.
pub async fn metrics_handler<S: Store + 'static>(State(state): State<MetricsState<S>>) -> Response {
    let rendered = tokio::task::spawn_blocking(move || state.metrics.render(&state.engine)).await;
    match rendered {
        Ok(Ok(text)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics scrape failed");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, e).into_response()
        }
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Middleware: observe each request's latency by method, route template and status.
pub async fn observe_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16().to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}
