//! Bench: `GET /v1/workflow-runs/{id}` over loopback, the real router (auth, engine through
//! `spawn_blocking`, rendering, middleware) against a bare axum handler that returns the same
//! JSON bytes from memory, in the same run, driven by the same keep-alive HTTP/1.1 load
//! generator. Prints throughput, p50 and p99 of each and the throughput ratio.
//!
//! `cargo bench -p workflow-server --bench get_run`
//! Environment: `BENCH_SECS` (per round and target, default 3), `BENCH_CONNS` (default 16),
//! `BENCH_ROUNDS` (default 3), `BENCH_STORE` (`sqlite` (default), `memory` or `both`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::http::header;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use workflow_core::*;
use workflow_http::{router, HttpConfig};
use workflow_server::{load_fixture, parse_fixture, DEMO_FIXTURE};

const KEY: &str = "sk-user-demo-linus";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A run in a realistic state: started with two references, one output, completed.
fn seed<S: Store>(engine: &Engine<S>) -> RunId {
    let f = parse_fixture(DEMO_FIXTURE).unwrap();
    load_fixture(engine, &f).unwrap();
    let user = engine.store().user_by_api_key(KEY).unwrap().unwrap();
    let actor = Actor::of(&user);
    let part = |n: &str| f.path_parts.iter().find(|p| p.name == n).unwrap().id;
    let def = f
        .definitions
        .iter()
        .find(|d| d.name == "summarise")
        .unwrap()
        .id;
    let run = engine
        .create_run(
            &actor,
            def,
            CreateRun {
                name: Some("bench".into()),
                input_scope: vec![part("spec.md"), part("crm")],
                ..CreateRun::default()
            },
        )
        .unwrap();
    engine
        .start_run(&actor, run.id, StartRun::default())
        .unwrap();
    let runner = actor.clone().assumed();
    engine.add_output(&runner, run.id, "report.md").unwrap();
    engine
        .callback(
            &runner,
            run.id,
            Callback {
                status: CallbackStatus::Completed,
                error: None,
                attempt: Some(1),
            },
        )
        .unwrap();
    run.id
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// One keep-alive connection: GET in a loop until `until`; returns per-request latencies (ns).
async fn connection(addr: SocketAddr, path: String, until: Instant) -> Vec<u64> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {KEY}\r\nAccept: application/json\r\n\r\n"
    );
    let mut lat = Vec::with_capacity(100_000);
    let mut line = String::new();
    let mut body = Vec::new();
    while Instant::now() < until {
        let t = Instant::now();
        w.write_all(req.as_bytes()).await.unwrap();
        let mut len = 0usize;
        line.clear();
        r.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        body.resize(len, 0);
        r.read_exact(&mut body).await.unwrap();
        lat.push(t.elapsed().as_nanos() as u64);
    }
    lat
}

struct Figures {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn drive(addr: SocketAddr, path: &str, conns: u64, secs: u64) -> Figures {
    // Warm up.
    let warm = Instant::now() + Duration::from_millis(300);
    let mut hs = Vec::new();
    for _ in 0..conns {
        hs.push(tokio::spawn(connection(addr, path.to_owned(), warm)));
    }
    for h in hs {
        h.await.unwrap();
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let mut hs = Vec::new();
    for _ in 0..conns {
        hs.push(tokio::spawn(connection(addr, path.to_owned(), until)));
    }
    let mut all = Vec::new();
    for h in hs {
        all.extend(h.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Figures {
        rps: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

async fn bench_store<S: Store + 'static>(label: &str, engine: Engine<S>) {
    let secs = env_num("BENCH_SECS", 3);
    let conns = env_num("BENCH_CONNS", 16);
    let rounds = env_num("BENCH_ROUNDS", 3);
    let id = tokio::task::block_in_place(|| seed(&engine));
    let engine = Arc::new(engine);
    let mut config = HttpConfig::default();
    if let Ok(n) = std::env::var("BENCH_PERMITS") {
        config.max_concurrent_engine_calls = n.parse().unwrap();
    }
    let real = serve(router(engine.clone(), config)).await;
    let path = format!("/v1/workflow-runs/{id}");

    // The bare handler serves the very bytes the real one answers.
    let bytes = {
        let mut s = TcpStream::connect(real).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        axum::body::Bytes::from(out[at..].to_vec())
    };
    let bare_app = axum::Router::new().route(
        "/v1/workflow-runs/{run_id}",
        get(move || {
            let b = bytes.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], b) }
        }),
    );
    let bare = serve(bare_app).await;

    println!("\n== store: {label}; {conns} keep-alive connections, {secs} s per target per round");
    println!(
        "{:<6} {:<6} {:>10} {:>10} {:>10}",
        "round", "target", "req/s", "p50 µs", "p99 µs"
    );
    let mut ratios = Vec::new();
    let mut totals = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)];
    for round in 1..=rounds {
        let b = drive(bare, &path, conns, secs).await;
        let r = drive(real, &path, conns, secs).await;
        for (i, (name, f)) in [("bare", &b), ("router", &r)].into_iter().enumerate() {
            println!(
                "{round:<6} {name:<6} {:>10.0} {:>10.1} {:>10.1}",
                f.rps, f.p50_us, f.p99_us
            );
            totals[i].0 += f.rps / rounds as f64;
            totals[i].1 += f.p50_us / rounds as f64;
            totals[i].2 += f.p99_us / rounds as f64;
        }
        ratios.push(r.rps / b.rps);
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let median = ratios[ratios.len() / 2];
    println!(
        "mean   bare   {:>10.0} {:>10.1} {:>10.1}",
        totals[0].0, totals[0].1, totals[0].2
    );
    println!(
        "mean   router {:>10.0} {:>10.1} {:>10.1}",
        totals[1].0, totals[1].1, totals[1].2
    );
    println!(
        "RESULT store={label} bare_rps={:.0} router_rps={:.0} ratio_median={median:.2} (goal >= 0.60) {}",
        totals[0].0,
        totals[1].0,
        if median >= 0.6 { "MET" } else { "NOT MET" }
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let which = std::env::var("BENCH_STORE").unwrap_or_else(|_| "sqlite".to_owned());
    rt.block_on(async {
        if which == "memory" || which == "both" {
            bench_store(
                "memory",
                Engine::new(workflow_store_memory::MemoryStore::new()),
            )
            .await;
        }
        if which == "sqlite" || which == "both" {
            let dir = tempfile::tempdir().unwrap();
            let store =
                workflow_store_sqlite::SqliteStore::open(dir.path().join("bench.sqlite")).unwrap();
            bench_store("sqlite", Engine::new(store)).await;
        }
    });
}
