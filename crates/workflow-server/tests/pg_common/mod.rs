//! Shared scaffolding of the PostgreSQL server tests: the cluster URL (and the skip rule), a
//! fresh database per test, `workflow-server` processes on it, the test's own engine.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow_core::*;
use workflow_store_postgres::PgStore;

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/fixture.json");
/// The e2e fixture's OWNER, its tenant, the `summarise` definition and the `eng` folder.
pub const OWNER_KEY: &str = "sk-user-e2e-owner";
pub const SUMMARISE: &str = "8eec69a1-330e-53b4-a884-2be90ab90470";
pub const ENG_FOLDER: &str = "e1c8c354-7077-5057-9439-3802ba1055a4";
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const RELAY_WORKERS: usize = 4;

/// The cluster's URL; `None` (skip) only outside CI.
pub fn pg_url() -> Option<String> {
    match std::env::var("WORKFLOW_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("WORKFLOW_PG_URL is unset under CI: the PostgreSQL tests must run")
        }
        _ => {
            eprintln!("skipped: WORKFLOW_PG_URL unset");
            None
        }
    }
}

/// A fresh database on the cluster, dropped when this is dropped.
pub struct FreshDb {
    admin: String,
    name: String,
    pub url: String,
}

impl FreshDb {
    pub fn new(admin: &str) -> FreshDb {
        let name = format!("wf_scale_{}", uuid::Uuid::new_v4().simple());
        let mut c = postgres::Client::connect(admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        FreshDb {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// One `workflow-server` process.
pub struct Server {
    child: Child,
}

impl Server {
    /// A server relaying to the webhook receiver at `hook`.
    pub fn spawn(db: &str, hook: &str, dir: &std::path::Path, lease_ms: u64) -> Server {
        let secret = dir.join("webhook.secret");
        std::fs::write(&secret, WEBHOOK_SECRET).unwrap();
        let secret = secret.to_str().unwrap().to_owned();
        let lease = lease_ms.to_string();
        let workers = RELAY_WORKERS.to_string();
        let args = [
            "--runner",
            "webhook",
            "--webhook-url",
            hook,
            "--webhook-secret-file",
            &secret,
            "--relay-lease-ms",
            &lease,
            "--relay-workers",
            &workers,
        ];
        Server::spawn_with(db, dir, &args).0
    }

    /// A server on `db` with the e2e fixture, a token secret shared by every server of `dir`,
    /// `extra` flags; returns it and its address (`127.0.0.1:port`).
    pub fn spawn_with(db: &str, dir: &std::path::Path, extra: &[&str]) -> (Server, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_workflow-server"))
            .args(["--db", db, "--listen", "127.0.0.1:0", "--fixture", FIXTURE])
            .arg("--token-secret-file")
            .arg(dir.join("token.secret"))
            .args(["--maintenance-ms", "100"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if let Some((_, url)) = line.split_once("listening on http://") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (Server { child }, addr)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The test's own engine on the database (it never relays: the servers do).
pub fn engine(db: &str) -> Arc<Engine<PgStore>> {
    let store = PgStore::connect(db).unwrap();
    let config = EngineConfig {
        relay_after_commit: false,
        ..EngineConfig::default()
    };
    Arc::new(Engine::new(store).with_config(config))
}

pub fn owner(e: &Engine<PgStore>) -> Actor {
    Actor::of(&e.store().user_by_api_key(OWNER_KEY).unwrap().unwrap())
}

pub fn id(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap()
}

/// Wait (up to `limit`) until `done`, polling.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request over a fresh connection: `Some((status, body))`, or `None` when the server was
/// unreachable or the answer cut off (not acknowledged).
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {OWNER_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    let (_, body) = out.split_once("\r\n\r\n")?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}
