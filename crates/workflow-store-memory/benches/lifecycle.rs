//! The run lifecycle (create, start, callback COMPLETED) through the engine on the memory store,
//! against a raw `HashMap` behind a `Mutex` doing the minimal equivalent writes (insert the row
//! and a history record, then two version-checked updates with a history record each, one lock
//! per step), in the same run; then both with 2 threads, to show whether the store's one lock
//! is what limits the engine. Prints the ratios (baseline time / engine time: 1.0 means the
//! engine is as fast as the raw writes).
//!
//! Also: Start of a run with 200 references (the most a run may name, `MAX_INPUT_SCOPE`) and a
//! definition with 20 common files, each a document with an active version: the snapshot
//! building Start does (goal ≤ 200 µs on memory).
//!
//! `cargo bench -p workflow-store-memory --bench lifecycle`   (BENCH_ROUNDS, default 200)
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::Criterion;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::uuid::Uuid;
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// The minimal row of a run and its history, as the raw side keeps them.
struct RawRun {
    name: String,
    state: &'static str,
    version: u64,
    attempt: u32,
    updated_at: Timestamp,
    history: Vec<(u64, Option<&'static str>, &'static str, Timestamp)>,
}

#[derive(Default)]
struct Raw {
    runs: Mutex<HashMap<Uuid, RawRun>>,
}

impl Raw {
    fn lifecycle(&self, n: u64) {
        let id = Uuid::new_v4();
        let now = chrono::Utc::now;
        {
            let mut g = self.runs.lock().unwrap();
            let at = now();
            g.insert(
                id,
                RawRun {
                    name: format!("run-{n}"),
                    state: "NOT_STARTED",
                    version: 1,
                    attempt: 0,
                    updated_at: at,
                    history: vec![(1, None, "NOT_STARTED", at)],
                },
            );
        }
        for (from, to, version) in [
            ("NOT_STARTED", "IN_PROGRESS", 2),
            ("IN_PROGRESS", "COMPLETED", 3),
        ] {
            let mut g = self.runs.lock().unwrap();
            let r = g.get_mut(&id).unwrap();
            assert_eq!(r.version + 1, version, "version-checked");
            let at = now();
            r.state = to;
            r.version = version;
            r.attempt = 1;
            r.updated_at = at;
            r.history.push((version, Some(from), to, at));
        }
        assert!(!self.runs.lock().unwrap()[&id].name.is_empty());
    }
}

/// Lifecycles per second of `f` on `threads` threads for about `secs`.
fn throughput(threads: usize, secs: f64, f: &(dyn Fn(u64) + Sync)) -> f64 {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let done = std::sync::atomic::AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for i in 0..threads {
            let (stop, done) = (&stop, &done);
            s.spawn(move || {
                let mut n = (i as u64) << 40;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    f(n);
                    n += 1;
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    done.into_inner() as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let world = World::new(MemoryStore::new());
    let raw = Raw::default();
    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    c.bench_function("memory lifecycle: engine", |b| b.iter(|| world.lifecycle()));
    let mut n = 0;
    c.bench_function("memory lifecycle: raw HashMap + Mutex", |b| {
        b.iter(|| {
            n += 1;
            raw.lifecycle(n)
        })
    });
    let (big, scope) = world.big_scope("big-scope");
    c.bench_function(
        "memory: start with 200 references and 20 common files",
        |b| {
            b.iter_batched(
                || {
                    let cmd = CreateRun {
                        input_scope: scope.clone(),
                        ..CreateRun::default()
                    };
                    world.engine.create_run(&world.owner, big.id, cmd).unwrap()
                },
                |draft| {
                    let run = world
                        .engine
                        .start_run(&world.owner, draft.id, StartRun::default())
                        .unwrap();
                    let snapshot = run.snapshot.as_ref().unwrap();
                    assert_eq!(
                        snapshot.inputs.len(),
                        220,
                        "200 references and 20 common files"
                    );
                },
                criterion::BatchSize::SmallInput,
            )
        },
    );
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    // Interleaved rounds, one thread.
    let rounds = u32::try_from(workflow_conformance::env_count("BENCH_ROUNDS", 200)).unwrap();
    const BATCH: u32 = 20;
    let (mut e, mut r) = (Duration::ZERO, Duration::ZERO);
    for round in 0..=rounds {
        let t = Instant::now();
        for _ in 0..BATCH {
            world.lifecycle();
        }
        let te = t.elapsed();
        let t = Instant::now();
        for i in 0..BATCH {
            raw.lifecycle(u64::from(round * BATCH + i) + (1 << 50));
        }
        let tr = t.elapsed();
        if round > 0 {
            e += te;
            r += tr;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(rounds * BATCH);
    println!(
        "\nlifecycle on the memory store, 1 thread, interleaved batches of {BATCH}, mean per \
         lifecycle:\n  engine {:8.2} µs | raw HashMap + Mutex {:8.3} µs -> engine = {:.3}x raw",
        per(e),
        per(r),
        r.as_secs_f64() / e.as_secs_f64()
    );
    // 1 and 2 threads, each for 2 s: does the one lock cap the engine?
    let engine = |_: u64| drop(world.lifecycle());
    let rawf = |n: u64| raw.lifecycle(n);
    let (e1, e2) = (throughput(1, 2.0, &engine), throughput(2, 2.0, &engine));
    let (r1, r2) = (throughput(1, 2.0, &rawf), throughput(2, 2.0, &rawf));
    println!(
        "threads: engine {e1:.0}/s with 1, {e2:.0}/s with 2 ({:.2}x) | raw {r1:.0}/s with 1, \
         {r2:.0}/s with 2 ({:.2}x)",
        e2 / e1,
        r2 / r1
    );
}
