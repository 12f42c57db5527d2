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
use std::path::Path;
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::uuid::Uuid;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

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
        self.world.lifecycle();
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

const RAW_PART: &str = "INSERT INTO path_parts (tenant_id, id, kind, name, parent_id, path,
    approval_state, approval, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'not_required', NULL, ?7)";
const RAW_OUTBOX: &str = "INSERT INTO outbox (run_id, tenant_id, attempt, kind, message)
    VALUES (?1, ?2, 1, 'dispatch', ?3)";
const RAW_DELIVERED: &str = "UPDATE outbox SET attempts = attempts + 1, delivered = 1
    WHERE seq = ?1 AND delivered = 0";

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

    /// The minimal writes: one insert and two version-checked updates, each with its history row.
    fn lifecycle(&mut self) {
        self.lifecycle_with(false);
    }

    /// The same three transitions plus everything else the engine's lifecycle writes: the run
    /// folder and its three subfolders, the dispatch in the outbox and its delivery mark (a
    /// fourth transaction, after the dispatcher accepted it).
    fn lifecycle_all_writes(&mut self) {
        self.lifecycle_with(true);
    }

    fn lifecycle_with(&mut self, everything: bool) {
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
            if everything {
                let mut p = c.prepare_cached(RAW_PART).unwrap();
                let folder = Uuid::new_v4().to_string();
                let path = format!("/shared/eng/plain/runs/{name}");
                p.execute(params![
                    tenant,
                    folder,
                    "WORKFLOW_RUN",
                    name,
                    def,
                    path,
                    now()
                ])
                .unwrap();
                for sub in ["inputs", "outputs", "discussions"] {
                    let sub_path = format!("{path}/{sub}");
                    let id = Uuid::new_v4().to_string();
                    p.execute(params![tenant, id, "FOLDER", sub, folder, sub_path, now()])
                        .unwrap();
                }
            }
        });
        self.step(|c| {
            let mut s = c.prepare_cached(RAW_START).unwrap();
            assert_eq!(s.execute(params![id, now()]).unwrap(), 1);
            history(c, 2, Some("NOT_STARTED"), "IN_PROGRESS", "started");
            if everything {
                let mut o = c.prepare_cached(RAW_OUTBOX).unwrap();
                let message = format!("{{\"type\":\"dispatch\",\"run_id\":\"{id}\"}}");
                o.execute(params![id, tenant, message]).unwrap();
            }
        });
        if everything {
            let seq = self.conn.last_insert_rowid();
            self.step(|c| {
                let mut m = c.prepare_cached(RAW_DELIVERED).unwrap();
                assert_eq!(m.execute(params![seq]).unwrap(), 1);
            });
        }
        self.step(|c| {
            let mut s = c.prepare_cached(RAW_COMPLETE).unwrap();
            assert_eq!(s.execute(params![id, now()]).unwrap(), 1);
            history(c, 3, Some("IN_PROGRESS"), "COMPLETED", "completed");
        });
    }
}

/// Criterion's view: each variant measured on its own.
fn bench(c: &mut Criterion, dir: &Path) {
    for (label, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let mut group = c.benchmark_group(format!("lifecycle_{label}"));
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(5));
        let engine = EngineSide::new(&dir.join(format!("engine-{label}.sqlite")), durability);
        group.bench_function("engine", |b| b.iter(|| engine.lifecycle()));
        let mut raw = RawSide::new(&dir.join(format!("raw-{label}.sqlite")), durability);
        group.bench_function("raw", |b| b.iter(|| raw.lifecycle()));
        group.bench_function("raw_all_writes", |b| b.iter(|| raw.lifecycle_all_writes()));
        group.finish();
    }
}

/// The ratio: engine and raw lifecycles interleaved in small batches, so that a shared
/// machine's drifting disk and CPU load hit both sides alike. Returns (engine, raw) mean
/// seconds per lifecycle.
fn interleaved(dir: &Path, label: &str, durability: Durability, rounds: u32) -> [f64; 3] {
    let engine = EngineSide::new(
        &dir.join(format!("ratio-engine-{label}.sqlite")),
        durability,
    );
    let mut raw = RawSide::new(&dir.join(format!("ratio-raw-{label}.sqlite")), durability);
    let mut all = RawSide::new(&dir.join(format!("ratio-all-{label}.sqlite")), durability);
    const BATCH: u32 = 10;
    let timed = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..BATCH {
            f();
        }
        t.elapsed()
    };
    let mut totals = [Duration::ZERO; 3];
    for round in 0..=rounds {
        let d = [
            timed(&mut || engine.lifecycle()),
            timed(&mut || raw.lifecycle()),
            timed(&mut || all.lifecycle_all_writes()),
        ];
        if round > 0 {
            // round 0 warms the caches up
            for (t, d) in totals.iter_mut().zip(d) {
                *t += d;
            }
        }
    }
    let n = f64::from(rounds * BATCH);
    totals.map(|t| t.as_secs_f64() / n)
}

/// Lifecycles per second through one shared `SqliteStore` (one writer connection behind a
/// mutex, reads on the idle writer or a pooled reader) with 1 and with 4 threads.
fn shared_store_throughput(dir: &Path, label: &str, durability: Durability, per_thread: u32) {
    for threads in [1u32, 4] {
        let path = dir.join(format!("threads-{label}-{threads}.sqlite"));
        let engine = std::sync::Arc::new(EngineSide::new(&path, durability));
        let t = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let engine = engine.clone();
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        engine.lifecycle();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  {label:>6}, {threads} thread(s) on one store: {:7.0} lifecycles/s",
            f64::from(threads * per_thread) / secs
        );
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, dir.path());
    c.final_summary();
    // `cargo bench -- <filter>` or `--list` runs only part of criterion; the ratio needs both.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    println!(
        "\nlifecycle (create, start, callback COMPLETED), interleaved batches of 10, \
         mean per lifecycle (x = throughput relative to raw):"
    );
    for (label, durability, rounds) in [
        ("FULL", Durability::Full, 60),
        ("NORMAL", Durability::Normal, 300),
    ] {
        let [e, r, a] = interleaved(dir.path(), label, durability, rounds);
        println!(
            "  {label:>6}: engine {:7.1} µs | raw minimal {:7.1} µs -> engine = {:.2}x raw \
             | raw with all the engine's writes {:7.1} µs -> engine = {:.2}x",
            e * 1e6,
            r * 1e6,
            r / e,
            a * 1e6,
            a / e
        );
    }
    println!("\nshared store, concurrent lifecycles:");
    shared_store_throughput(dir.path(), "FULL", Durability::Full, 100);
    shared_store_throughput(dir.path(), "NORMAL", Durability::Normal, 500);
}
