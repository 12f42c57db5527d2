//! DISP-6: how many outbox claims the relay makes. A commit wakes one relay worker, not all of
//! them, and a relay pass adds workers only when its first claim saw more work than it took:
//! on a networked store every claim is a round trip, and an empty claim per idle worker per
//! commit was most of the relay's cost.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_conformance::world::World;
use workflow_core::*;
use workflow_store_memory::MemoryStore;

/// Counts the relay's claims (`outbox_claim`, reported as `Call::OutboxDue`).
#[derive(Clone, Default)]
struct Claims(Arc<AtomicUsize>);

impl Claims {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Interceptor<MemoryStore> for Claims {
    fn before(&self, _: &MemoryStore, call: Call<'_>) -> StoreResult<()> {
        if matches!(call, Call::OutboxDue) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn world(config: EngineConfig) -> (World<Intercepted<MemoryStore, Claims>>, Claims) {
    let claims = Claims::default();
    let store = Intercepted::new(MemoryStore::new(), claims.clone());
    (World::with_config(store, config), claims)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// DISP-6: the inline relay after a Start (one queued dispatch, 4 workers allowed) claims
/// twice: once taking the dispatch, once finding nothing left. No idle worker is started.
#[test]
fn disp_6_a_pass_over_one_message_claims_twice() {
    let (w, claims) = world(EngineConfig {
        relay_parallelism: 4,
        ..EngineConfig::default()
    });
    for _ in 0..5 {
        let draft = w.draft();
        let before = claims.count();
        w.engine
            .start_run(&w.owner, draft.id, StartRun::default())
            .unwrap();
        assert!(w
            .dispatcher
            .dispatch_keys()
            .iter()
            .any(|k| k.run_id == draft.id));
        assert_eq!(claims.count() - before, 2, "claims of one pass");
    }
}

/// DISP-6: with 4 idle background workers, one commit wakes one of them: it delivers, finds the
/// queue empty and sleeps again (2 claims); the other three stay asleep. Several commits in a
/// row are all delivered.
#[test]
fn disp_6_a_commit_wakes_one_idle_worker() {
    let (w, claims) = world(EngineConfig {
        relay_after_commit: false,
        ..EngineConfig::default()
    });
    let w = Arc::new(w);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (w, stop) = (w.clone(), stop.clone());
            std::thread::spawn(move || w.engine.run_relay_worker(&stop, Duration::from_secs(3600)))
        })
        .collect();
    wait_for("each worker's first claim", || claims.count() >= 4);
    std::thread::sleep(Duration::from_millis(50));
    let idle = claims.count();
    assert_eq!(idle, 4, "idle workers do not claim until woken");
    let draft = w.draft();
    w.engine
        .start_run(&w.owner, draft.id, StartRun::default())
        .unwrap();
    wait_for("the dispatch", || {
        w.dispatcher
            .dispatch_keys()
            .iter()
            .any(|k| k.run_id == draft.id)
    });
    wait_for("the woken worker's empty claim", || {
        claims.count() >= idle + 2
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(claims.count(), idle + 2, "one worker woke, not four");
    // A burst of commits: every dispatch is delivered, by whichever workers wake.
    let burst: Vec<RunId> = (0..20)
        .map(|_| {
            let d = w.draft();
            w.engine
                .start_run(&w.owner, d.id, StartRun::default())
                .unwrap();
            d.id
        })
        .collect();
    wait_for("the burst's dispatches", || {
        let keys = w.dispatcher.dispatch_keys();
        burst.iter().all(|id| keys.iter().any(|k| k.run_id == *id))
    });
    stop.store(true, Ordering::SeqCst);
    w.engine.wake_relay();
    for t in workers {
        t.join().unwrap();
    }
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());
}
