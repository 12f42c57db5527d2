//! `engine_ops`: arbitrary sequences of every operation by arbitrary actors, run on the engine
//! over the memory store and on the reference model (`workflow_conformance::model`), checked
//! after every step by `model::check_sequence`: equal answers, history length = committed
//! transitions, terminal states stay terminal, versions only grow, gapless history (AUDIT-1),
//! refused calls change nothing (ERR-2), snapshots never change (SNAP-7), IN_PROGRESS runs have
//! their dispatch queued (CONC-5), idempotent replays answer the same (START-2, STOP-2, CB-3,
//! CB-4, APPROVE-4, CREATE-6). Any disagreement panics, which libFuzzer reports as a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workflow_conformance::model::check_sequence;
use workflow_fuzz::{steps, Actor, FuzzOp};
use workflow_store_memory::MemoryStore;

fuzz_target!(|input: Vec<(Actor, FuzzOp)>| {
    if let Err(e) = check_sequence(MemoryStore::new(), &steps(input)) {
        panic!("engine and model disagree: {e}");
    }
});
