//! SCALE-2: relays claim outbox messages with a lease. Another owner is not offered a leased
//! message until the lease ends; the owner may be offered it again; recording an attempt ends
//! the lease; and many relays claiming at once deliver each message exactly once.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use workflow_conformance::world::World;
use workflow_core::chrono::Duration;
use workflow_core::uuid::Uuid;
use workflow_core::*;
use workflow_store_postgres::PgStore;

/// A world on a fresh database with `n` started runs: `n` pending dispatches.
fn world_with_dispatches(n: usize) -> Option<(World<PgStore>, common::TempDb)> {
    let db = common::TempDb::new()?;
    // No relay after each commit: the messages stay queued for the relays of the test.
    let config = EngineConfig {
        relay_after_commit: false,
        ..EngineConfig::default()
    };
    let w = World::with_config(PgStore::connect(&db.url).unwrap(), config);
    for _ in 0..n {
        let run = w
            .engine
            .create_run(&w.triggerer, w.def_plain.id, CreateRun::default())
            .unwrap();
        w.engine
            .start_run(&w.triggerer, run.id, StartRun::default())
            .unwrap();
    }
    Some((w, db))
}

fn seqs(entries: &[OutboxEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

fn lease(owner: Uuid, until: Timestamp) -> OutboxLease {
    OutboxLease { owner, until }
}

/// SCALE-2: a lease keeps a message from other owners until it ends, not from its owner;
/// recording an attempt ends it; a delivered message is never offered again.
#[test]
fn scale_2_a_lease_hides_messages_from_other_relays_until_it_ends() {
    let Some((w, _db)) = world_with_dispatches(6) else {
        return;
    };
    let store = w.engine.store();
    let now = w.clock.now();
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let due = seqs(&store.outbox_due(now, 100).unwrap());
    assert_eq!(due.len(), 6);
    let minute = Duration::seconds(60);
    assert_eq!(
        seqs(
            &store
                .outbox_claim(now, 100, &lease(a, now + minute))
                .unwrap()
        ),
        due
    );
    assert!(store
        .outbox_claim(now, 100, &lease(b, now + minute))
        .unwrap()
        .is_empty());
    // The owner is offered its leased messages again (a relay that restarts its loop).
    assert_eq!(
        seqs(
            &store
                .outbox_claim(now, 100, &lease(a, now + minute))
                .unwrap()
        ),
        due
    );
    // After the lease, another relay takes them over (the first one died).
    let later = now + minute + Duration::seconds(1);
    assert_eq!(
        seqs(
            &store
                .outbox_claim(later, 100, &lease(b, later + minute))
                .unwrap()
        ),
        due
    );
    assert!(store
        .outbox_claim(later, 100, &lease(a, later + minute))
        .unwrap()
        .is_empty());
    // Recording ends the lease: a retried message is offered to anyone once due again.
    store
        .outbox_record_attempt(
            due[0],
            later,
            &Delivery::Retry {
                error: "busy".into(),
                next_try_at: later,
            },
        )
        .unwrap();
    store
        .outbox_record_attempt(due[1], later, &Delivery::Delivered)
        .unwrap();
    let got = seqs(
        &store
            .outbox_claim(later, 100, &lease(c, later + minute))
            .unwrap(),
    );
    assert_eq!(got, vec![due[0]]);
    // The outbox_due view ignores leases; the delivered one is gone for everyone.
    let end = later + minute * 3;
    let mut rest = due.clone();
    rest.remove(1);
    assert_eq!(seqs(&store.outbox_due(end, 100).unwrap()), rest);
    assert_eq!(
        seqs(
            &store
                .outbox_claim(end, 100, &lease(a, end + minute))
                .unwrap()
        ),
        rest
    );
}

/// SCALE-2: eight relays (own pools, like processes) claim and deliver at once; every message
/// is delivered exactly once.
#[test]
fn scale_2_racing_relays_deliver_each_message_exactly_once() {
    let Some((w, db)) = world_with_dispatches(40) else {
        return;
    };
    let now = w.clock.now();
    let expected = seqs(&w.engine.store().outbox_pending(1000).unwrap());
    assert_eq!(expected.len(), 40);
    let delivered = Arc::new(Mutex::new(HashMap::<u64, usize>::new()));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, delivered, barrier) = (db.url.clone(), delivered.clone(), barrier.clone());
            std::thread::spawn(move || {
                let store = PgStore::connect(&url).unwrap();
                let me = Uuid::new_v4();
                barrier.wait();
                loop {
                    let claimed = store
                        .outbox_claim(now, 3, &lease(me, now + Duration::seconds(600)))
                        .unwrap();
                    if claimed.is_empty() {
                        if store.outbox_pending(1).unwrap().is_empty() {
                            break;
                        }
                        std::thread::yield_now();
                        continue;
                    }
                    for e in claimed {
                        *delivered.lock().unwrap().entry(e.seq).or_default() += 1;
                        store
                            .outbox_record_attempt(e.seq, now, &Delivery::Delivered)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let delivered = delivered.lock().unwrap();
    let mut got: Vec<u64> = delivered.keys().copied().collect();
    got.sort_unstable();
    assert_eq!(got, expected);
    let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
}
