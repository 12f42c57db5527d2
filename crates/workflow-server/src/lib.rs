//! # workflow-server
//!
//! The standalone workflow-runs server (SPEC section 8): the [`workflow_http`] router on an
//! embedded SQLite file (or in memory), with fixture loading, a simulated local runner, the
//! background outbox relay and deadline reaper, and graceful shutdown. The `workflow-server`
//! binary (`src/main.rs`, see `--help`) is a thin command line over this library.
//!
//! ## Design
//!
//! * The HTTP surface is entirely [`workflow_http::router`]; this crate only chooses the store
//!   (`--db` SQLite file or `--memory`), builds the [`workflow_core::Engine`] with a dispatcher,
//!   and runs the tasks around it. `workflow-http` stays a library any host can mount and does
//!   not depend on a concrete store; the concrete stores are linked here.
//! * Fixtures (FIX-1): [`parse_fixture`] reads the JSON shape of [`workflow_core::Fixture`],
//!   [`load_fixture`] applies it through [`workflow_core::Engine::load_fixture`] (loading the
//!   same fixture twice changes nothing). [`DEMO_FIXTURE`] is the built-in tenant of `--demo`,
//!   and [`demo_banner`] what `--demo` prints.
//! * Dispatch ([`runner`]): `--runner local` wires a [`runner::ChannelDispatcher`] to
//!   [`runner::spawn_local_runner`], a simulated agent that completes each dispatched attempt
//!   through [`workflow_core::Engine::callback`] (the same call the callback endpoint makes);
//!   `--runner none` wires [`runner::LoggingDispatcher`], which only logs, and an outside runner
//!   posts the callbacks over HTTP.
//! * [`Maintenance`] relays the outbox and reaps runs past their deadline (REAP-1) on a period,
//!   on the blocking pool. [`serve`] serves until a shutdown future resolves (the binary uses
//!   [`shutdown_signal`]: SIGINT or SIGTERM); in-flight requests finish first, then the
//!   background tasks stop and the store is dropped (closing the SQLite file).
//!
//! ## Example
//!
//! A server on a free loopback port, in memory, with the demo tenant and the local runner,
//! shut down after one request:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use workflow_core::Engine;
//! use workflow_http::HttpConfig;
//! use workflow_server::runner::{channel, spawn_local_runner};
//! use workflow_server::{load_fixture, parse_fixture, serve, Maintenance, DEMO_FIXTURE};
//! use workflow_store_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (dispatcher, inbox) = channel();
//! let engine = Arc::new(Engine::new(MemoryStore::new()).with_dispatcher(Arc::new(dispatcher)));
//! load_fixture(&engine, &parse_fixture(DEMO_FIXTURE)?)?;
//! let runner = spawn_local_runner(engine.clone(), inbox, Duration::from_millis(100));
//! let maintenance = Maintenance::spawn(engine.clone(), Duration::from_millis(200));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(engine, listener, HttpConfig::default(), async {
//!     let _ = stopped.await;
//! }));
//!
//! // One request: GET /healthz needs no credentials.
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let mut conn = tokio::net::TcpStream::connect(addr).await?;
//! conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer).await?;
//! assert!(answer.starts_with("HTTP/1.1 200"));
//!
//! let _ = stop.send(());
//! server.await??;
//! maintenance.stop().await;
//! runner.abort();
//! # Ok(())
//! # }
//! ```

mod accept;
pub mod metrics;
pub mod runner;
mod server;

pub use server::{
    default_max_connections, demo_banner, load_fixture, parse_fixture, serve, serve_with,
    serve_with_metrics, shutdown_signal, LogRelay, Maintenance, RelayHost, RelayWorkers,
    ServeOptions, DEMO_FIXTURE,
};
