//! Bench: HTTP lifecycles (create, then start: two commits) through real `workflow-server`
//! processes on one PostgreSQL database, driven by client threads of this process, in one run:
//!
//! * 1 process, 1 client: the one-at-a-time baseline (one WAL flush per commit);
//! * 1 process, 16 clients: what PostgreSQL's group commit (shared WAL flushes) gives;
//! * 2 and 4 processes, 16 clients spread over them: what coordination through the database
//!   costs (on a 2-core machine the goal is "nothing", not linear scaling).
//!
//! Prints lifecycles per second of each and the ratios. Skipped when `WORKFLOW_PG_URL` is unset.
//!
//! `WORKFLOW_PG_URL=... cargo bench -p workflow-server --bench pg_processes`
//! Environment: `BENCH_SECS` (per configuration, default 5).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

#[path = "../tests/pg_common/mod.rs"]
mod pg_common;

use pg_common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One lifecycle: create a run of `summarise`, start it. Panics on an unexpected answer.
fn lifecycle(addr: &str) {
    let path = format!("/v1/workflow-definitions/{SUMMARISE}/runs");
    let (status, run) = http(addr, "POST", &path, "{}").expect("create answered");
    assert_eq!(status, 201, "create: {run}");
    let id = run["id"].as_str().unwrap();
    let path = format!("/v1/workflow-runs/{id}/start");
    let (status, body) = http(addr, "POST", &path, "{}").expect("start answered");
    assert!(status < 300, "start: {status} {body}");
}

/// Lifecycles per second with `processes` servers and `clients` client threads.
fn measure(admin: &str, processes: usize, clients: usize, secs: u64) -> f64 {
    let db = FreshDb::new(admin);
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--runner", "none"];
    let servers: Vec<(Server, String)> = (0..processes)
        .map(|_| Server::spawn_with(&db.url, dir.path(), &flags))
        .collect();
    // Warm up every server (pools, prepared statements).
    for (_, a) in &servers {
        lifecycle(a);
    }
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            let addr = &servers[c % processes].1;
            let (done, stop) = (&done, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    lifecycle(addr);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    drop(servers);
    rate
}

fn main() {
    let Ok(admin) = std::env::var("WORKFLOW_PG_URL") else {
        eprintln!("skipped: WORKFLOW_PG_URL unset");
        return;
    };
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let one = measure(&admin, 1, 1, secs);
    println!("1 process,  1 client : {one:8.1} lifecycles/s");
    let sixteen = measure(&admin, 1, 16, secs);
    println!(
        "1 process, 16 clients: {sixteen:8.1} lifecycles/s ({:.2}x of 1 client)",
        sixteen / one
    );
    for processes in [2, 4] {
        let rate = measure(&admin, processes, 16, secs);
        println!(
            "{processes} processes, 16 clients: {rate:8.1} lifecycles/s ({:.2}x of 1 process)",
            rate / sixteen
        );
    }
}
