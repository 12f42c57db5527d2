//! Group commit at `Durability::Full`: commits per second through the engine (each caller
//! creates runs, one `Store::commit` per `create_run`: the run row, its folder and three
//! subfolders, its history record), with 1 and with 16 concurrent callers on one
//! `SqliteStore`, group commit on and off (off = one transaction and one fsync per commit, the
//! behaviour before group commit), all in the same run. The four variants are interleaved in
//! short slices (`GROUP_COMMIT_ROUNDS` rounds, default 5, of `GROUP_COMMIT_SLICE_MS` ms each,
//! default 1500), so a shared machine's drifting fsync latency hits them alike. Prints
//! commits/s, the mean batch size, and the ratios against group commit off with 1 caller.
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

struct Variant {
    label: &'static str,
    callers: usize,
    world: Arc<World<SqliteStore>>,
    commits: u64,
    seconds: f64,
}

impl Variant {
    fn new(dir: &Path, label: &'static str, group_commit: bool, callers: usize) -> Self {
        let options = SqliteOptions {
            durability: Durability::Full,
            group_commit,
            ..SqliteOptions::default()
        };
        let path = dir.join(format!("{label}.sqlite"));
        let store = SqliteStore::open_with(path, options).unwrap();
        Variant {
            label,
            callers,
            world: Arc::new(World::new(store)),
            commits: 0,
            seconds: 0.0,
        }
    }

    /// `callers` threads create runs until `slice` is over; returns the commits made.
    fn slice(&self, slice: Duration) -> (u64, f64) {
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + slice;
        let handles: Vec<_> = (0..self.callers)
            .map(|_| {
                let (world, done) = (self.world.clone(), done.clone());
                std::thread::spawn(move || {
                    while Instant::now() < deadline {
                        world
                            .engine
                            .create_run(&world.triggerer, world.def_plain.id, CreateRun::default())
                            .unwrap();
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
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
            env_or("GROUP_COMMIT_ROUNDS", 5),
            Duration::from_millis(env_or("GROUP_COMMIT_SLICE_MS", 1500)),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let mut variants = [
        Variant::new(dir.path(), "off_1", false, 1),
        Variant::new(dir.path(), "on_1", true, 1),
        Variant::new(dir.path(), "off_16", false, 16),
        Variant::new(dir.path(), "on_16", true, 16),
    ];
    // Round 0 warms the caches and the files up and is not counted.
    for round in 0..=rounds {
        for v in &mut variants {
            let warm = if round == 0 {
                slice.min(Duration::from_millis(300))
            } else {
                slice
            };
            let (n, s) = v.slice(warm);
            if round > 0 {
                v.commits += n;
                v.seconds += s;
            }
        }
    }
    println!(
        "\ngroup commit at FULL: create_run commits/s, {rounds} interleaved rounds of {} ms per \
         variant (x = relative to group commit off, 1 caller: one fsync per commit)",
        slice.as_millis()
    );
    let base = variants[0].rate();
    for v in &variants {
        let stats = v.world.engine.store().group_commit_stats();
        let batch = if stats.batches > 0 {
            format!("{:5.2}", stats.commits as f64 / stats.batches as f64)
        } else {
            "    -".to_owned()
        };
        println!(
            "  {:>6}: {:2} caller(s) {:8.1} commits/s  ({:6} commits)  mean batch {batch}  \
             -> {:5.2}x",
            v.label,
            v.callers,
            v.rate(),
            v.commits,
            v.rate() / base
        );
    }
    let [off1, on1, off16, on16] = &variants;
    println!(
        "  ratios: 1 caller on/off = {:.2}x (goal >= 0.9x); 16 callers on vs 1 caller off = \
         {:.2}x (goal >= 5x); 16 callers on/off = {:.2}x",
        on1.rate() / off1.rate(),
        on16.rate() / off1.rate(),
        on16.rate() / off16.rate()
    );
}
