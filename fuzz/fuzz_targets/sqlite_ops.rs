//! `sqlite_ops`: `engine_ops` on the SQLite store (a fresh database file per input, in a
//! temporary directory): arbitrary sequences of every operation by arbitrary actors, run on the
//! engine over SQLite and on the reference model (`workflow_conformance::model`), checked
//! after every step by `model::check_sequence`: equal answers, history length = committed
//! transitions, terminal states stay terminal, versions only grow, gapless history (AUDIT-1),
//! refused calls change nothing (ERR-2), snapshots never change (SNAP-7), IN_PROGRESS runs have
//! their dispatch queued (CONC-5), idempotent replays answer the same (START-2, STOP-2, CB-3,
//! CB-4, APPROVE-4, CREATE-6). Any disagreement panics, which libFuzzer reports as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workflow_conformance::model::check_sequence;
use workflow_fuzz::{steps, Actor, FuzzOp};
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

fuzz_target!(|input: Vec<(Actor, FuzzOp)>| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = SqliteOptions {
        durability: Durability::Normal,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(dir.path().join("fuzz.sqlite"), options).expect("open");
    if let Err(e) = check_sequence(store, &steps(input)) {
        panic!("engine and model disagree: {e}");
    }
});
