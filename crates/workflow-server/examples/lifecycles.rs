//! `N` run lifecycles (create → start → callback COMPLETED) through the engine, on the memory
//! store or on SQLite at NORMAL durability, after the conformance world's setup: the workload
//! `scripts/bench.sh callgrind` counts instructions of (once with `N`, once with `2N`: the
//! difference over `N` is one lifecycle, without the setup).
//!
//! `cargo run --release -p workflow-server --example lifecycles -- memory 200`
//! `cargo run --release -p workflow-server --example lifecycles -- sqlite 200`
//!
//! `big-start`: instead, N Starts of a run with 200 references and 20 common files on the
//! memory store (create, then start; `World::big_scope`), the snapshot-building workload.
#![allow(clippy::unwrap_used, missing_docs)]

use workflow_conformance::world::World;
use workflow_core::*;
use workflow_store_memory::MemoryStore;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

fn lifecycles<S: Store>(w: &World<S>, n: u64) {
    for _ in 0..n {
        w.lifecycle();
    }
}

fn big_starts(w: &World<MemoryStore>, n: u64) {
    let (def, scope) = w.big_scope("big-scope");
    for _ in 0..n {
        let cmd = CreateRun {
            input_scope: scope.clone(),
            ..CreateRun::default()
        };
        let draft = w.engine.create_run(&w.owner, def.id, cmd).unwrap();
        let run = w
            .engine
            .start_run(&w.owner, draft.id, StartRun::default())
            .unwrap();
        assert_eq!(run.snapshot.map(|s| s.inputs.len()), Some(220));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(store), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: lifecycles memory|sqlite|big-start N");
        std::process::exit(2);
    };
    match store.as_str() {
        "memory" => lifecycles(&World::new(MemoryStore::new()), n),
        "big-start" => big_starts(&World::new(MemoryStore::new()), n),
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let options = SqliteOptions {
                durability: Durability::Normal,
                ..SqliteOptions::default()
            };
            let store = SqliteStore::open_with(dir.path().join("bench.sqlite"), options).unwrap();
            lifecycles(&World::new(store), n);
        }
        other => {
            eprintln!("unknown workload {other}: memory, sqlite or big-start");
            std::process::exit(2);
        }
    }
}
