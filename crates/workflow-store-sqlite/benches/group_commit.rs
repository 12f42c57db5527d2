//! Group commit at `Durability::Full`: commits per second through the engine, with 1 and with
//! 16 concurrent callers, group commit on and off (off = one transaction and one fsync per
//! commit, the behaviour before group commit), all in the same run. Two workloads, one
//! `Store::commit` per call each:
//!
//! * `create`: `create_run` (the run row with its 14 indexes, its folder and three subfolders,
//!   its history record: a heavy commit, ~30..70 WAL pages);
//! * `rename`: `update_run` renaming a run (the changed columns, their indexes and a history
//!   record: a light commit).
//!
//! A fifth variant, `NORMAL_16` (16 callers, group commit on, `Durability::Normal`: no fsync per
//! commit), is the ceiling group commit at FULL can approach: what the CPU and the writes cost
//! without waiting for the disk.
//!
//! Per workload, the stores (group commit off, on, NORMAL) are opened on the **same file**, so
//! all write the same database and WAL (a file's place on disk alone moved single-caller results
//! by ~10 %). The variants are interleaved in short slices (`GROUP_COMMIT_ROUNDS` rounds,
//! default 6, of `GROUP_COMMIT_SLICE_MS` ms each, default 1000; odd rounds in reverse order), so
//! a shared machine's drifting fsync latency hits them alike. Prints commits/s, the mean batch
//! size, and the ratios against group commit off with 1 caller.
//!
//! `cargo bench -p workflow-store-sqlite --bench group_commit`
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Create,
    Rename,
}

const CALLERS: usize = 16;

/// Every rename picks a name never used before.
static NAMES: AtomicU64 = AtomicU64::new(0);

/// What every caller needs: the fixture's actor, definition and runs (one per caller).
struct Fixture {
    triggerer: Actor,
    definition: DefinitionId,
    runs: Vec<RunId>,
}

struct Variant {
    label: &'static str,
    callers: usize,
    engine: Arc<Engine<SqliteStore>>,
    commits: u64,
    seconds: f64,
    batches: u64,
    batched: u64,
}

impl Variant {
    /// `callers` threads run `workload` until `slice` is over; counts the commits made.
    fn slice(&mut self, fixture: &Arc<Fixture>, workload: Workload, slice: Duration) -> (u64, f64) {
        let before = self.engine.store().group_commit_stats();
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + slice;
        let handles: Vec<_> = (0..self.callers)
            .map(|i| {
                let (engine, done, fx) = (self.engine.clone(), done.clone(), fixture.clone());
                std::thread::spawn(move || {
                    while Instant::now() < deadline {
                        match workload {
                            Workload::Create => {
                                engine
                                    .create_run(&fx.triggerer, fx.definition, CreateRun::default())
                                    .unwrap();
                            }
                            Workload::Rename => {
                                let n = NAMES.fetch_add(1, Ordering::Relaxed);
                                let run = fx.runs[i];
                                let update = UpdateRun {
                                    name: Some(format!("{run}-{n}")),
                                    ..UpdateRun::default()
                                };
                                engine.update_run(&fx.triggerer, run, update).unwrap();
                            }
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let after = self.engine.store().group_commit_stats();
        self.batches += after.batches - before.batches;
        self.batched += after.commits - before.commits;
        (done.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
    }

    fn rate(&self) -> f64 {
        self.commits as f64 / self.seconds
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn open(path: &Path, group_commit: bool) -> SqliteStore {
    open_at(path, group_commit, Durability::Full)
}

fn open_at(path: &Path, group_commit: bool, durability: Durability) -> SqliteStore {
    let options = SqliteOptions {
        durability,
        group_commit,
        ..SqliteOptions::default()
    };
    SqliteStore::open_with(path, options).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo test --benches` runs this in test mode: a smoke run only.
    let smoke = args.iter().any(|a| a == "--test");
    let (rounds, slice) = if smoke {
        (1, Duration::from_millis(50))
    } else {
        (
            env_or("GROUP_COMMIT_ROUNDS", 6),
            Duration::from_millis(env_or("GROUP_COMMIT_SLICE_MS", 1000)),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    println!(
        "\ngroup commit at FULL: commits/s through the engine, {rounds} interleaved rounds of {} \
         ms per variant (x = relative to group commit off, 1 caller: one fsync per commit)",
        slice.as_millis()
    );
    for (workload, name) in [(Workload::Create, "create"), (Workload::Rename, "rename")] {
        measure(
            &dir.path().join(format!("{name}.sqlite")),
            workload,
            name,
            rounds,
            slice,
        );
    }
}

fn measure(path: &Path, workload: Workload, name: &str, rounds: u64, slice: Duration) {
    let world = World::new(open(path, true));
    let fixture = Arc::new(Fixture {
        triggerer: world.triggerer.clone(),
        definition: world.def_plain.id,
        runs: (0..CALLERS).map(|_| world.draft().id).collect(),
    });
    let off = Arc::new(Engine::new(open(path, false)));
    let on = Arc::new(Engine::new(open(path, true)));
    let normal = Arc::new(Engine::new(open_at(path, true, Durability::Normal)));
    let variant = |label, callers, engine: &Arc<Engine<SqliteStore>>| Variant {
        label,
        callers,
        engine: engine.clone(),
        commits: 0,
        seconds: 0.0,
        batches: 0,
        batched: 0,
    };
    let mut variants = [
        variant("off_1", 1, &off),
        variant("on_1", 1, &on),
        variant("off_16", CALLERS, &off),
        variant("on_16", CALLERS, &on),
        variant("NORMAL_16", CALLERS, &normal),
    ];
    // Round 0 warms the caches and the file up and is not counted.
    for round in 0..=rounds {
        // Odd rounds run the variants in reverse order, so a steady drift favours none.
        let order: Vec<usize> = if round % 2 == 1 {
            (0..variants.len()).rev().collect()
        } else {
            (0..variants.len()).collect()
        };
        for i in order {
            let v = &mut variants[i];
            let warm = if round == 0 {
                slice.min(Duration::from_millis(300))
            } else {
                slice
            };
            let (n, s) = v.slice(&fixture, workload, warm);
            if round > 0 {
                v.commits += n;
                v.seconds += s;
            }
        }
    }
    println!("{name}:");
    let base = variants[0].rate();
    for v in &variants {
        let batch = if v.batches > 0 {
            format!("{:5.2}", v.batched as f64 / v.batches as f64)
        } else {
            "    -".to_owned()
        };
        println!(
            "  {:>9}: {:2} caller(s) {:8.1} commits/s  ({:6} commits)  mean batch {batch}  \
             -> {:5.2}x",
            v.label,
            v.callers,
            v.rate(),
            v.commits,
            v.rate() / base
        );
    }
    let [off1, on1, off16, on16, normal16] = &variants;
    println!(
        "  {name} ratios: 1 caller on/off = {:.2}x (goal >= 0.9x); 16 callers on vs 1 caller \
         off = {:.2}x (goal >= 5x); 16 callers on/off = {:.2}x; 16 callers on at FULL vs at \
         NORMAL (no fsync at all) = {:.2}x",
        on1.rate() / off1.rate(),
        on16.rate() / off1.rate(),
        on16.rate() / off16.rate(),
        on16.rate() / normal16.rate()
    );
}
