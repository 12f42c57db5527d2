//! The runs summary (SUM-1) over 100,000 runs in the window on SQLite: the engine's answer
//! (`Engine::runs_summary` as the tenant's OWNER: the store's aggregate queries) against a
//! baseline measured in the same run, one raw `GROUP BY execution_state` count over the same
//! rows (the least any summary must read). Prints the median times and the ratio
//! (baseline / engine: 1.0 means the summary costs no more than that one scan).
//!
//! `cargo bench -p workflow-store-sqlite --bench summary` (`SUMMARY_RUNS` changes the size).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::Criterion;
use rusqlite::{params, Connection};
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::uuid::Uuid;
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

const INSERT: &str = "INSERT INTO runs (id, tenant_id, definition_id, name, triggered_by,
    execution_state, approval_state, attempt, version, input_scope, selected_skill_ids,
    auto_start, folders, created_at, updated_at, started_at, completed_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 3, '[]', '[]', 0, '{}', ?8, ?8, ?9, ?10)";

fn nanos(t: Timestamp) -> i64 {
    t.timestamp_nanos_opt().unwrap()
}

/// `n` runs of the World's two definitions, created over the last 6 days, in every state.
fn fill(path: &std::path::Path, w: &World<SqliteStore>, n: u64) {
    let mut c = Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut stmt = tx.prepare(INSERT).unwrap();
        let now = w.clock.now();
        let users = [w.triggerer.user_id, w.user_read.user_id, w.owner.user_id];
        for i in 0..n {
            let created = now - chrono::Duration::seconds(518_400)
                + chrono::Duration::seconds((i * 5) as i64 % 518_400);
            let (state, approval, done) = match i % 5 {
                0 => ("NOT_STARTED", "not_required", false),
                1 => ("IN_PROGRESS", "not_required", false),
                2 => ("COMPLETED", "pending", true),
                3 => ("COMPLETED", "approved", true),
                _ => ("FAILED", "not_required", true),
            };
            let started = (i % 5 != 0).then(|| nanos(created) + 1_000_000_000);
            let completed = done.then(|| nanos(created) + ((i % 97) as i64 + 2) * 1_000_000_000);
            let def = if i % 2 == 0 { w.def.id } else { w.def_plain.id };
            stmt.execute(params![
                Uuid::from_u64_pair(7, i).to_string(),
                w.tenant.0.to_string(),
                def.0.to_string(),
                format!("run-{i}"),
                users[(i % 3) as usize].0.to_string(),
                state,
                approval,
                nanos(created),
                started,
                completed,
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: u64 = std::env::var("SUMMARY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var("SUMMARY_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("summary.sqlite"));
    let store = SqliteStore::open_with(
        &path,
        SqliteOptions {
            durability: Durability::Normal,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let w = World::new(store);
    w.clock.advance(chrono::Duration::days(30));
    fill(&path, &w, n);
    let raw = Connection::open(&path).unwrap();
    let tenant = w.tenant.0.to_string();
    let since = w.clock.now() - chrono::Duration::days(7);
    let baseline = || {
        let mut stmt = raw
            .prepare_cached(
                "SELECT execution_state, count(*) FROM runs WHERE tenant_id = ?1 AND created_at >= ?2 GROUP BY execution_state",
            )
            .unwrap();
        let rows: Vec<(String, i64)> = stmt
            .query_map(params![tenant, nanos(since)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    let engine = || {
        w.engine
            .runs_summary(&w.owner, SummaryQuery::default())
            .unwrap()
    };
    let s = engine();
    assert_eq!(s.total, n, "every run is in the window");
    assert_eq!(baseline().iter().map(|(_, c)| *c as u64).sum::<u64>(), n);
    // Interleaved rounds, so that the shared machine's drift hits both alike.
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        std::hint::black_box(engine());
        ours.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(baseline());
        base.push(t.elapsed());
    }
    let (ours, base) = (median(ours), median(base));
    println!(
        "summary over {n} runs: engine p50 {:.1} ms, raw GROUP BY p50 {:.1} ms, ratio {:.2}x (goal: engine <= 50 ms)",
        ours.as_secs_f64() * 1e3,
        base.as_secs_f64() * 1e3,
        base.as_secs_f64() / ours.as_secs_f64()
    );
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    c.bench_function("summary_100k_engine", |b| b.iter(engine));
    c.bench_function("summary_100k_raw_group_by", |b| b.iter(baseline));
    c.final_summary();
}
