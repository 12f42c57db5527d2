//! Fixture loading (FIX-1), the background maintenance task (outbox relay and deadline reaper),
//! serving with graceful shutdown on SIGINT/SIGTERM, and the built-in demo fixture.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workflow_core::{Engine, Fixture, Store};
use workflow_http::{router, HttpConfig};

pub use crate::accept::{default_max_connections, serve_with, ServeOptions};

/// Parse a fixture file's text (FIX-1).
pub fn parse_fixture(text: &str) -> Result<Fixture, String> {
    serde_json::from_str(text).map_err(|e| format!("fixture: {e}"))
}

/// Load a fixture into the engine; loading the same fixture twice changes nothing (FIX-1).
pub fn load_fixture<S: Store>(engine: &Engine<S>, fixture: &Fixture) -> Result<(), String> {
    engine
        .load_fixture(fixture)
        .map_err(|e| format!("fixture: {e}"))
}

/// The background outbox relay (DISP-6): `n` threads running [`Engine::run_relay_worker`], each
/// woken by every commit of this engine that queues a message and sweeping every `sweep` for
/// messages queued by other processes, left by a crash, or past their backoff. A run's messages
/// go one at a time, in order; different runs' in parallel, so one slow runner holds up only its
/// own runs.
pub struct RelayWorkers {
    host: Arc<dyn RelayHost>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// What [`RelayWorkers`] run: an engine (or anything that owns one).
pub trait RelayHost: Send + Sync + 'static {
    /// [`Engine::run_relay_worker`].
    fn run_relay_worker(&self, stop: &std::sync::atomic::AtomicBool, sweep: Duration);
    /// [`Engine::wake_relay`].
    fn wake_relay(&self);
}

impl<S: Store + 'static> RelayHost for Engine<S> {
    fn run_relay_worker(&self, stop: &std::sync::atomic::AtomicBool, sweep: Duration) {
        Engine::run_relay_worker(self, stop, sweep);
    }
    fn wake_relay(&self) {
        Engine::wake_relay(self);
    }
}

impl std::fmt::Debug for RelayWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayWorkers")
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl RelayWorkers {
    /// Start `n` (at least 1) workers on `host`.
    pub fn spawn(host: Arc<dyn RelayHost>, n: usize, sweep: Duration) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..n.max(1))
            .map(|i| {
                let (host, stop) = (host.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("relay-{i}"))
                    .spawn(move || host.run_relay_worker(&stop, sweep))
                    .unwrap_or_else(|e| panic!("cannot start a relay thread: {e}"))
            })
            .collect();
        RelayWorkers {
            host,
            stop,
            threads,
        }
    }

    /// Stop the workers and wait for deliveries in progress to finish.
    pub async fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.host.wake_relay();
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// Logs every delivery attempt (DISP-7): a failed one once at `warn`, with its run, attempt and
/// reason, and whether it will be retried or was dead-lettered.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogRelay;

impl workflow_core::RelayObserver for LogRelay {
    fn delivered(&self, entry: &workflow_core::OutboxEntry) {
        let key = entry.message.key();
        tracing::debug!(run = %key.run_id, attempt = key.attempt, seq = entry.seq, "delivered");
    }

    fn failed(
        &self,
        entry: &workflow_core::OutboxEntry,
        error: &workflow_core::DispatchError,
        outcome: &workflow_core::Delivery,
    ) {
        let key = entry.message.key();
        let kind = match entry.message {
            workflow_core::OutboxMessage::Dispatch(_) => "dispatch",
            workflow_core::OutboxMessage::Cancel(_) => "cancel",
        };
        match outcome {
            workflow_core::Delivery::Retry { next_try_at, .. } => tracing::warn!(
                run = %key.run_id, attempt = key.attempt, message = kind, tries = entry.attempts + 1,
                reason = %error.message, next_try_at = %next_try_at, "delivery failed; will retry"
            ),
            workflow_core::Delivery::Dead { error: why } => tracing::warn!(
                run = %key.run_id, attempt = key.attempt, message = kind, tries = entry.attempts + 1,
                reason = %why, "delivery failed; dead-lettered"
            ),
            workflow_core::Delivery::Delivered => {}
        }
    }
}

/// A background task that reaps runs past their deadline (REAP-1) and fires due schedules
/// (SCHED-3..5) every `every`, and makes a relay pass too (for hosts that run no
/// [`RelayWorkers`]), until [`Maintenance::stop`]. Every process may run one: each firing is an
/// idempotent create (SCALE-3).
#[derive(Debug)]
pub struct Maintenance {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Maintenance {
    /// Start it: a relay pass and a reaper sweep every `every`.
    pub fn spawn<S: Store + 'static>(engine: Arc<Engine<S>>, every: Duration) -> Self {
        Self::start(engine, every, true)
    }

    /// Start the reaper alone, for hosts whose [`RelayWorkers`] deliver the outbox.
    pub fn spawn_reaper<S: Store + 'static>(engine: Arc<Engine<S>>, every: Duration) -> Self {
        Self::start(engine, every, false)
    }

    fn start<S: Store + 'static>(engine: Arc<Engine<S>>, every: Duration, relay: bool) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tick.tick() => {}
                }
                let engine = engine.clone();
                let pass = tokio::task::spawn_blocking(move || {
                    let relayed = if relay {
                        engine.relay_outbox()
                    } else {
                        Ok(workflow_core::RelayReport::default())
                    };
                    let reaped = engine.reap_expired();
                    let fired = engine.fire_due_schedules();
                    (relayed, reaped, fired)
                })
                .await;
                match pass {
                    Ok((relayed, reaped, fired)) => {
                        log_schedules(fired);
                        match relayed {
                            Ok(r) if r.failed > 0 => {
                                tracing::warn!(
                                    delivered = r.delivered,
                                    failed = r.failed,
                                    "outbox relay"
                                )
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "outbox relay failed"),
                        }
                        match reaped {
                            Ok(ids) if !ids.is_empty() => {
                                tracing::info!(count = ids.len(), "reaped runs past their deadline")
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "reaper failed"),
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "maintenance pass panicked"),
                }
            }
        });
        Maintenance { stop, handle }
    }

    /// Stop it and wait for a pass in progress to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

/// Log what a scheduler pass did (SCHED-4: skipped occurrences; SCHED-5: refused starts).
fn log_schedules(fired: workflow_core::Result<workflow_core::FireReport>) {
    use workflow_core::FireOutcome;
    let report = match fired {
        Ok(r) => r,
        Err(e) => return tracing::warn!(error = %e, "scheduler failed"),
    };
    for f in &report.firings {
        let run = f.run_id.map(|r| r.to_string()).unwrap_or_default();
        match &f.outcome {
            FireOutcome::Started => tracing::info!(
                definition = %f.definition_id, occurrence = %f.occurrence, run = %run,
                skipped = f.skipped, "scheduled run started"
            ),
            FireOutcome::StartRefused(why) => tracing::warn!(
                definition = %f.definition_id, occurrence = %f.occurrence, run = %run,
                reason = %why, "scheduled run created but its start was refused; it stays NOT_STARTED"
            ),
            FireOutcome::CreateFailed(why) => tracing::warn!(
                definition = %f.definition_id, occurrence = %f.occurrence, reason = %why,
                "scheduled run could not be created"
            ),
            FireOutcome::AlreadyFired | FireOutcome::ClockWentBack => {}
        }
        if f.skipped > 0 {
            tracing::info!(
                definition = %f.definition_id, skipped = f.skipped, fired = %f.occurrence,
                "missed schedule occurrences skipped; only the latest fired (SCHED-4)"
            );
        }
    }
}

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this
/// is called, not when the future is first polled, so a signal that arrives between "listening"
/// and the first poll still shuts down gracefully. Call it inside the runtime, before announcing
/// the address.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async fn wait(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                _ = wait(interrupt) => tracing::info!("SIGINT: shutting down"),
                _ = wait(terminate) => tracing::info!("SIGTERM: shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C: shutting down");
    }
}

/// Serve the router on `listener` until `shutdown` resolves; in-flight requests finish first.
/// Connections are treated as [`ServeOptions::default`] says (SEC-1, SEC-2).
pub async fn serve<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    listener: TcpListener,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(engine, listener, config, ServeOptions::default(), shutdown).await
}

/// [`serve`], plus `GET /metrics` and request latencies when `metrics` is given (DISP-7).
pub async fn serve_with_metrics<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    listener: TcpListener,
    config: HttpConfig,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = ServeOptions {
        metrics,
        ..ServeOptions::default()
    };
    serve_with(engine, listener, config, options, shutdown).await
}

/// The router of [`serve_with`]: the API, plus `GET /metrics` and request latencies when
/// `metrics` is given (DISP-7).
pub(crate) fn app<S: Store + 'static>(
    engine: Arc<Engine<S>>,
    config: HttpConfig,
    metrics: Option<Arc<crate::metrics::Metrics>>,
) -> axum::Router {
    let mut app = router(engine.clone(), config);
    if let Some(metrics) = metrics {
        let scrape = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(crate::metrics::metrics_handler::<S>),
            )
            .with_state(crate::metrics::MetricsState {
                engine,
                metrics: metrics.clone(),
            });
        app = app
            .merge(scrape)
            .layer(axum::middleware::from_fn_with_state(
                metrics,
                crate::metrics::observe_requests,
            ));
    }
    app
}

/// The built-in demo fixture of `--demo` (FIX-1 shape): tenant `acme` with an owner, an admin
/// and two users with grants, folders, documents, a data source, and two definitions (one
/// requiring approval).
pub const DEMO_FIXTURE: &str = include_str!("demo_fixture.json");

/// The banner `--demo` prints: users and keys, and copy-paste examples (curl and ksapi).
pub fn demo_banner(fixture: &Fixture, base_url: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "\nworkflow-server demo: serving on {base_url}\n");
    let _ = writeln!(out, "Users of tenant \"acme\" (API keys):");
    for u in &fixture.users {
        let grants = if u.grants.is_empty() {
            "everything (role)".to_owned()
        } else {
            u.grants
                .iter()
                .map(|g| format!("{} {}", g.capability.as_str(), g.path))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "  {:<16} {:<6} {:<22} {}",
            format!("{} {}", u.first_name, u.last_name),
            u.role.as_str(),
            u.api_key.clone().unwrap_or_default(),
            grants
        );
    }
    let _ = writeln!(out, "\nWorkflow definitions:");
    for d in &fixture.definitions {
        let _ = writeln!(
            out,
            "  {}  {:<10} approval_required={}",
            d.id, d.name, d.approval_required
        );
    }
    let key = fixture
        .users
        .iter()
        .find_map(|u| u.api_key.clone())
        .unwrap_or_default();
    let def = fixture
        .definitions
        .iter()
        .find(|d| d.approval_required)
        .or(fixture.definitions.first())
        .map(|d| d.id.to_string())
        .unwrap_or_default();
    let doc = fixture
        .path_parts
        .iter()
        .filter(|p| p.kind == workflow_core::PathPartKind::Document && !p.versions.is_empty())
        .min_by_key(|p| p.name != "spec.md")
        .map(|p| p.id.to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"
Try it with curl:
  curl -s -X POST -H 'Authorization: Bearer {key}' \
       -F 'input_scope=["{doc}"]' \
       {base_url}/v1/workflow-definitions/{def}/runs
  curl -s -X POST -H 'Authorization: Bearer {key}' {base_url}/v1/workflow-runs/<run id>/start
  curl -s -H 'Authorization: Bearer {key}' {base_url}/v1/workflow-runs/<run id>

Or with the Python client (pip install ksapi==3.18.2):
  python3 - <<'PY'
  import json, time, ksapi
  api = ksapi.ApiClient(ksapi.Configuration(host="{base_url}", access_token="{key}"))
  defs, runs = ksapi.WorkflowDefinitionsApi(api), ksapi.WorkflowRunsApi(api)
  run = defs.create_workflow_run("{def}", input_scope=json.dumps(["{doc}"]))
  runs.start_workflow_run(run.id)
  while (run := runs.get_workflow_run(run.id)).execution_state.value == "IN_PROGRESS":
      time.sleep(0.5)
  print(run.execution_state, run.approval_state, [a.name for a in run.outputs.assets])
  run = runs.set_workflow_run_approval(run.id, ksapi.SetWorkflowRunApprovalRequest(state="approved"))
  print(run.approval_state)
  PY

OpenAPI document: {base_url}/openapi.json    Stop with Ctrl-C.
"#
    );
    out
}
