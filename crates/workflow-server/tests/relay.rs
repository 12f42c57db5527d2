//! DISP-6 with the server's background relay (real threads): no API call waits for a runner, a
//! commit wakes the relay at once (the sweep here is an hour), and a hanging runner holds up
//! only its own run.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow_conformance::world::World;
use workflow_core::*;
use workflow_server::{RelayHost, RelayWorkers};
use workflow_store_memory::MemoryStore;

/// The world's engine, as the relay's host.
struct Host(Arc<World<MemoryStore>>);

impl RelayHost for Host {
    fn run_relay_worker(&self, stop: &std::sync::atomic::AtomicBool, sweep: Duration) {
        self.0.engine.run_relay_worker(stop, sweep);
    }
    fn wake_relay(&self) {
        self.0.engine.wake_relay();
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// DISP-6: starts return while the runner of the first run hangs; the relay, woken by each
/// commit, delivers the other runs' dispatches meanwhile; released, the first is delivered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disp_6_relay_is_off_the_request_path_and_woken_by_commits() {
    let config = EngineConfig {
        relay_after_commit: false,
        ..EngineConfig::default()
    };
    let w = Arc::new(World::with_config(MemoryStore::new(), config));
    let relay = RelayWorkers::spawn(Arc::new(Host(w.clone())), 2, Duration::from_secs(3600));
    let slow = w.draft();
    w.dispatcher.hold(slow.id);
    let started = w
        .engine
        .start_run(&w.owner, slow.id, StartRun::default())
        .unwrap();
    assert_eq!(
        started.execution_state,
        ExecutionState::InProgress,
        "returned at once"
    );
    assert!(
        w.dispatcher.wait_until_held(),
        "the relay picked it up without a sweep"
    );
    let fast: Vec<RunId> = (0..3)
        .map(|_| {
            let r = w.draft();
            w.engine
                .start_run(&w.owner, r.id, StartRun::default())
                .unwrap();
            r.id
        })
        .collect();
    wait_for("the other runs' dispatches", || {
        let keys: Vec<RunId> = w
            .dispatcher
            .dispatch_keys()
            .iter()
            .map(|k| k.run_id)
            .collect();
        fast.iter().all(|id| keys.contains(id))
    });
    assert!(!w
        .dispatcher
        .dispatch_keys()
        .iter()
        .any(|k| k.run_id == slow.id));
    w.dispatcher.release();
    wait_for("the slow run's dispatch", || {
        w.dispatcher
            .dispatch_keys()
            .iter()
            .any(|k| k.run_id == slow.id)
    });
    relay.stop().await;
    assert!(w.engine.store().outbox_pending(100).unwrap().is_empty());
}
