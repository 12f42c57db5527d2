//! `workflow-server`: the workflow-runs API (SPEC section 7) on an embedded database, with an
//! optional simulated runner (SPEC section 8). See `--help`.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workflow_core::{Dispatcher, Engine, EngineConfig, Fixture, Store};
use workflow_dispatch_temporal::{TemporalConfig, TemporalDispatcher};
use workflow_http::HttpConfig;
use workflow_runner::{PayloadBuilder, TokenKeys};
use workflow_server::metrics::{Metrics, RelayMetrics};
use workflow_server::runner::{channel, spawn_local_runner, webhook_dispatcher, LoggingDispatcher};
use workflow_server::{
    demo_banner, load_fixture, parse_fixture, serve_with, shutdown_signal, Maintenance,
    RelayWorkers, ServeOptions, DEMO_FIXTURE,
};

/// Who executes dispatched attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RunnerMode {
    /// A built-in simulated agent: after --runner-delay-ms it writes one output document and
    /// reports COMPLETED through the callback path.
    Local,
    /// Dispatches are only logged; an outside runner posts the callbacks.
    None,
    /// Each attempt starts one Temporal workflow execution through Temporal's HTTP API
    /// (TEMP-1); a worker (examples/temporal-worker) calls back with the attempt's token.
    Temporal,
    /// Each dispatch and cancel is POSTed to --webhook-url, signed per Standard Webhooks with
    /// the secret of --webhook-secret-file (HOOK-1); the receiver calls back with the token.
    Webhook,
}

/// The workflow-runs API server (wire-compatible with the ksapi 3.18.2 client).
#[derive(Debug, Parser)]
#[command(name = "workflow-server", version, about, long_about = None)]
struct Args {
    /// SQLite database file (created if missing), or a PostgreSQL URL
    /// (`postgres://user@host:port/dbname`, migrated at start): several server processes may
    /// serve one PostgreSQL database (SCALE-1); each relays, reaps and fires schedules safely.
    #[arg(long, default_value = "./workflow-runs.sqlite")]
    db: PathBuf,
    /// Keep everything in memory instead of --db (lost on exit).
    #[arg(long)]
    memory: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Fixture file (tenants, users, knowledge base, definitions) to load before serving;
    /// loading the same file twice changes nothing.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Who executes dispatched attempts.
    #[arg(long, value_enum, default_value_t = RunnerMode::Local)]
    runner: RunnerMode,
    /// How long the local runner takes per attempt, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    runner_delay_ms: u64,
    /// Load the built-in demo fixture and print the users' API keys and examples.
    #[arg(long)]
    demo: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    body_limit: usize,
    /// A connection that has not sent a complete request head within this many milliseconds
    /// is closed; the same limit closes a keep-alive connection idle between requests (SEC-1).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// A request's whole body must arrive within this many milliseconds of its head, else the
    /// request fails and the connection is closed (SEC-1: a body trickling in is cut off).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_ms: u64,
    /// A request unanswered after this many milliseconds answers 503 `service_unavailable`
    /// with Retry-After (SEC-2). Keep it above the longest long-poll wait (60 s).
    #[arg(long, default_value_t = 90_000, value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_ms: u64,
    /// Connections served at once; one more is answered 503 with Retry-After and closed
    /// (SEC-2). Default: the open-file limit less 256, between 64 and 4096.
    #[arg(long, default_value_t = workflow_server::default_max_connections())]
    max_connections: usize,
    /// Requests handled at once (a long-poll wait counts while it waits); one more answers 503
    /// `service_unavailable` with Retry-After instead of queueing (SEC-2).
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Period of the deadline reaper, and of the relay's sweep for messages queued by other
    /// processes or past their backoff (commits of this process wake the relay at once), in
    /// milliseconds.
    #[arg(long, default_value_t = 1000)]
    maintenance_ms: u64,
    /// On PostgreSQL, how long this process's claim on an outbox message keeps other
    /// processes' relays off it (SCALE-2), in milliseconds: longer than a delivery can take.
    /// The messages of a process that dies holding claims are delivered by another after it.
    #[arg(long, default_value_t = 120_000, value_parser = clap::value_parser!(u64).range(1..))]
    relay_lease_ms: u64,
    /// Outbox deliveries in flight at once: different runs are delivered in parallel, so one
    /// slow runner holds up only its own runs (DISP-6).
    #[arg(long, default_value_t = 4)]
    relay_workers: usize,
    /// The base URL runners call back to (DISP-1 `callback_url`); default: http://<--listen>.
    #[arg(long)]
    public_url: Option<String>,
    /// The callback-token secret (RTOK-1): one or two lines of hex, the first signs, both
    /// verify (rotation: put the new secret first, the old one second). Created 0600 with a
    /// random secret if missing. Default: the --db path + `.token-secret` (with --memory: a
    /// fresh secret per start).
    #[arg(long)]
    token_secret_file: Option<PathBuf>,
    /// Temporal's HTTP API (`temporal server start-dev --http-port`), for --runner temporal.
    #[arg(long, default_value = "http://127.0.0.1:7243")]
    temporal_url: String,
    /// Temporal namespace.
    #[arg(long, default_value = "default")]
    temporal_namespace: String,
    /// Task queue the Temporal workers poll.
    #[arg(long, default_value = "workflow-runs")]
    temporal_task_queue: String,
    /// Workflow type the Temporal workers implement.
    #[arg(long, default_value = "WorkflowRun")]
    temporal_workflow_type: String,
    /// The receiver of --runner webhook (an http:// URL).
    #[arg(long, required_if_eq("runner", "webhook"))]
    webhook_url: Option<String>,
    /// The webhook signing secret(s): one `whsec_<base64>` (24 to 64 key bytes) per line, every
    /// one signs (rotation); the receiver holds one of them. Never created: see the README.
    #[arg(long, required_if_eq("runner", "webhook"))]
    webhook_secret_file: Option<PathBuf>,
    /// A webhook delivery unanswered after this many milliseconds is cut off and retried.
    #[arg(long, default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_timeout_ms: u64,
}

/// `--db` as a PostgreSQL URL, if it is one (`postgres://` or `postgresql://`).
fn postgres_url(db: &std::path::Path) -> Option<&str> {
    db.to_str()
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("workflow-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        if args.memory {
            run(workflow_store_memory::MemoryStore::new(), &args).await
        } else if let Some(url) = postgres_url(&args.db) {
            // The sync PostgreSQL client must never be used (or dropped) on an async worker
            // thread: it is opened here on a blocking thread, every engine call runs in
            // spawn_blocking, and `run` drops the engine on a blocking thread.
            let url = url.to_owned();
            let store = tokio::task::spawn_blocking(move || {
                workflow_store_postgres::PgStore::connect(&url)
            })
            .await
            .map_err(|e| format!("connecting to PostgreSQL panicked: {e}"))?
            .map_err(|e| format!("cannot open the PostgreSQL database: {e}"))?;
            run(store, &args).await
        } else {
            let db = args.db.clone();
            let store =
                tokio::task::spawn_blocking(move || workflow_store_sqlite::SqliteStore::open(&db))
                    .await
                    .map_err(|e| format!("opening the database panicked: {e}"))?
                    .map_err(|e| format!("cannot open {}: {e}", args.db.display()))?;
            run(store, &args).await
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("workflow-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run<S: Store + 'static>(store: S, args: &Args) -> Result<(), String> {
    let mut fixtures: Vec<Fixture> = Vec::new();
    if args.demo {
        fixtures.push(parse_fixture(DEMO_FIXTURE)?);
    }
    if let Some(path) = &args.fixture {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        fixtures.push(parse_fixture(&text)?);
    }

    let keys = match (&args.token_secret_file, args.memory) {
        (Some(path), _) => TokenKeys::load_or_create(path).map_err(|e| e.to_string())?,
        (None, false) if postgres_url(&args.db).is_some() => {
            return Err(
                "with a PostgreSQL --db, give --token-secret-file: every server \
                        process on the database must verify the same callback tokens"
                    .to_owned(),
            )
        }
        (None, false) => {
            let mut path = args.db.clone().into_os_string();
            path.push(".token-secret");
            TokenKeys::load_or_create(std::path::Path::new(&path)).map_err(|e| e.to_string())?
        }
        (None, true) => TokenKeys::random().map_err(|e| format!("no randomness: {e}"))?,
    };
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let config = EngineConfig::default();
    let payloads = PayloadBuilder::new(&public_url, keys.clone(), config.grace);
    let (dispatcher, inbox) = channel();
    let dispatcher: Arc<dyn Dispatcher> = match args.runner {
        RunnerMode::Local => Arc::new(dispatcher),
        RunnerMode::None => Arc::new(LoggingDispatcher),
        RunnerMode::Temporal => {
            let mut t = TemporalConfig::new(&args.temporal_url);
            t.namespace = args.temporal_namespace.clone();
            t.task_queue = args.temporal_task_queue.clone();
            t.workflow_type = args.temporal_workflow_type.clone();
            Arc::new(TemporalDispatcher::new(t, payloads))
        }
        RunnerMode::Webhook => Arc::new(webhook_dispatcher(
            args.webhook_url.as_deref().unwrap_or_default(),
            args.webhook_secret_file
                .as_deref()
                .unwrap_or(std::path::Path::new("")),
            Duration::from_millis(args.webhook_timeout_ms),
            payloads,
        )?),
    };
    let metrics = Arc::new(Metrics::new());
    // DISP-6: no API call waits for a runner; the relay workers deliver in the background.
    let config = EngineConfig {
        relay_after_commit: false,
        relay_parallelism: args.relay_workers.max(1),
        relay_lease: Duration::from_millis(args.relay_lease_ms),
        ..config
    };
    let engine = Arc::new(
        Engine::new(store)
            .with_dispatcher(dispatcher)
            .with_config(config)
            .with_relay_observer(Arc::new(RelayMetrics {
                adapter: match args.runner {
                    RunnerMode::Local => "local",
                    RunnerMode::None => "none",
                    RunnerMode::Temporal => "temporal",
                    RunnerMode::Webhook => "webhook",
                },
                metrics: metrics.clone(),
            })),
    );
    for f in &fixtures {
        let e = engine.clone();
        let f = f.clone();
        tokio::task::spawn_blocking(move || load_fixture(&e, &f))
            .await
            .map_err(|e| format!("fixture loading panicked: {e}"))??;
    }

    let runner = match args.runner {
        RunnerMode::Local => Some(spawn_local_runner(
            engine.clone(),
            inbox,
            Duration::from_millis(args.runner_delay_ms),
        )),
        RunnerMode::None | RunnerMode::Temporal | RunnerMode::Webhook => None,
    };
    let period = Duration::from_millis(args.maintenance_ms.max(10));
    let relay = RelayWorkers::spawn(engine.clone(), args.relay_workers, period);
    let maintenance = Maintenance::spawn_reaper(engine.clone(), period);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let base_url = format!("http://{addr}");
    // Handlers first: a signal sent right after the "listening" line must shut down cleanly.
    let shutdown = shutdown_signal();
    if args.demo {
        if let Some(demo) = fixtures.first() {
            println!("{}", demo_banner(demo, &base_url));
        }
    }
    tracing::info!(%addr, runner = ?args.runner, "listening");
    // A line scripts can wait for.
    println!("workflow-server listening on {base_url}");

    let config = HttpConfig {
        body_limit: args.body_limit,
        tokens: Some(Arc::new(keys)),
        request_timeout: Some(Duration::from_millis(args.request_timeout_ms)),
        max_in_flight: Some(args.max_in_flight.max(1)),
        ..HttpConfig::default()
    };
    let options = ServeOptions {
        metrics: Some(metrics),
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        body_timeout: Duration::from_millis(args.body_timeout_ms),
        max_connections: args.max_connections.max(1),
    };
    let served = serve_with(engine.clone(), listener, config, options, shutdown).await;
    tracing::info!("no more requests; stopping background tasks");
    maintenance.stop().await;
    relay.stop().await;
    if let Some(r) = runner {
        r.abort();
        let _ = r.await;
    }
    // The last reference closes the store (SQLite: the connection is closed on drop;
    // PostgreSQL: the pool, which must not be dropped on an async worker thread).
    let refs = Arc::strong_count(&engine);
    if refs > 1 {
        tracing::warn!(refs, "engine still shared at exit");
    }
    tokio::task::spawn_blocking(move || drop(engine))
        .await
        .map_err(|e| format!("closing the database panicked: {e}"))?;
    tracing::info!("database closed; bye");
    served.map_err(|e| format!("server error: {e}"))
}
