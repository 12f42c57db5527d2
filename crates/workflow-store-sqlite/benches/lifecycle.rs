//! The run lifecycle (create, start, callback COMPLETED) through the engine on SQLite, against a
//! raw rusqlite baseline doing the minimal equivalent writes on the same schema (insert + history
//! row, then two version-checked updates + history rows, each in its own `BEGIN IMMEDIATE`
//! transaction), at FULL and at NORMAL durability, in the same run. Prints the ratio
//! (baseline time / engine time: 1.0 means the engine is as fast as the raw writes).
//!
//! `cargo bench -p workflow-store-sqlite --bench lifecycle`
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::Criterion;
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::uuid::Uuid;
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

/// Total (iterations, time) per benchmark, fed by `iter_custom`, for the ratio summary.
static TOTALS: Mutex<BTreeMap<String, (u64, Duration)>> = Mutex::new(BTreeMap::new());

fn record(name: &str, iters: u64, d: Duration) {
    let mut t = TOTALS.lock().unwrap();
    let e = t.entry(name.to_owned()).or_default();
    e.0 += iters;
    e.1 += d;
}

fn options(durability: Durability) -> SqliteOptions {
    SqliteOptions {
        durability,
        ..SqliteOptions::default()
    }
}

struct EngineSide {
    world: World<SqliteStore>,
}

impl EngineSide {
    fn new(path: &Path, durability: Durability) -> Self {
        let store = SqliteStore::open_with(path, options(durability)).unwrap();
        EngineSide {
            world: World::new(store),
        }
    }

    fn lifecycle(&self) {
        let w = &self.world;
        let e = &w.engine;
        let run = e
            .create_run(&w.triggerer, w.def_plain.id, CreateRun::default())
            .unwrap();
        let run = e
            .start_run(&w.triggerer, run.id, StartRun::default())
            .unwrap();
        let cb = Callback {
            status: CallbackStatus::Completed,
            error: None,
            attempt: Some(run.attempt),
        };
        let done = e.callback(&w.triggerer.clone().assumed(), run.id, cb).unwrap();
        assert_eq!(done.outcome, CallbackOutcome::Updated);
    }
}

struct RawSide {
    conn: Connection,
    n: u64,
}

const RAW_INSERT: &str = "INSERT INTO runs (id, tenant_id, definition_id, name, triggered_by,
    execution_state, approval_state, attempt, version, input_scope, selected_skill_ids,
    auto_start, folders, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, 'NOT_STARTED', 'not_required', 0, 1, '[]', '[]', 0, '{}', ?6, ?6)";
const RAW_START: &str = "UPDATE runs SET execution_state = 'IN_PROGRESS', attempt = 1,
    version = 2, started_at = ?2, updated_at = ?2 WHERE id = ?1 AND version = 1";
const RAW_COMPLETE: &str = "UPDATE runs SET execution_state = 'COMPLETED', version = 3,
    completed_at = ?2, updated_at = ?2 WHERE id = ?1 AND version = 2";
const RAW_HISTORY: &str = "INSERT INTO history (run_id, seq, tenant_id, from_state, to_state,
    event, actor_user_id, actor_assumed, at, attempt, reason)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, NULL)";

impl RawSide {
    fn new(path: &Path, durability: Durability) -> Self {
        // The same schema and pragmas as the store (created by opening it once).
        drop(SqliteStore::open_with(path, options(durability)).unwrap());
        let conn = Connection::open(path).unwrap();
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous = {sync};"))
            .unwrap();
        RawSide { conn, n: 0 }
    }

    fn step(&mut self, f: impl FnOnce(&Connection)) {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        f(&tx);
        tx.commit().unwrap();
    }

    fn lifecycle(&mut self) {
        self.n += 1;
        let id = Uuid::new_v4().to_string();
        let tenant = Uuid::from_u128(1).to_string();
        let user = Uuid::from_u128(2).to_string();
        let def = Uuid::from_u128(3).to_string();
        let name = format!("run-{}", self.n);
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64
        };
        let history = |c: &Connection, seq: i64, from: Option<&str>, to: &str, ev: &str| {
            let mut h = c.prepare_cached(RAW_HISTORY).unwrap();
            h.execute(params![id, seq, tenant, from, to, ev, user, now(), 1])
                .unwrap();
        };
        self.step(|c| {
            let mut s = c.prepare_cached(RAW_INSERT).unwrap();
            s.execute(params![id, tenant, def, name, user, now()])
                .unwrap();
            history(c, 1, None, "NOT_STARTED", "created");
        });
        self.step(|c| {
            let mut s = c.prepare_cached(RAW_START).unwrap();
            assert_eq!(s.execute(params![id, now()]).unwrap(), 1);
            history(c, 2, Some("NOT_STARTED"), "IN_PROGRESS", "started");
        });
        self.step(|c| {
            let mut s = c.prepare_cached(RAW_COMPLETE).unwrap();
            assert_eq!(s.execute(params![id, now()]).unwrap(), 1);
            history(c, 3, Some("IN_PROGRESS"), "COMPLETED", "completed");
        });
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for (label, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let mut group = c.benchmark_group(format!("lifecycle_{label}"));
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(6));
        let engine = EngineSide::new(&dir.path().join(format!("engine-{label}.sqlite")), durability);
        group.bench_function("engine", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    engine.lifecycle();
                }
                let d = t.elapsed();
                record(&format!("{label}/engine"), iters, d);
                d
            })
        });
        let mut raw = RawSide::new(&dir.path().join(format!("raw-{label}.sqlite")), durability);
        group.bench_function("raw", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    raw.lifecycle();
                }
                let d = t.elapsed();
                record(&format!("{label}/raw"), iters, d);
                d
            })
        });
        group.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    let totals = TOTALS.lock().unwrap();
    let per = |k: &str| {
        totals
            .get(k)
            .filter(|(n, _)| *n > 0)
            .map(|(n, d)| d.as_secs_f64() / *n as f64)
    };
    println!("\nlifecycle (create, start, callback COMPLETED), mean over all timed iterations:");
    for label in ["full", "normal"] {
        if let (Some(e), Some(r)) = (per(&format!("{label}/engine")), per(&format!("{label}/raw"))) {
            println!(
                "  {label:>6}: engine {:8.1} µs, raw {:8.1} µs, ratio raw/engine = {:.2}x",
                e * 1e6,
                r * 1e6,
                r / e
            );
        }
    }
}
