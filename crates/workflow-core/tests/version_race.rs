//! Two (or more) racing `put_version(.., active = true)` calls on one document must not leave
//! two active versions (Store requirement 10). The racers are forced to interleave: every one of
//! them has read the document's versions before any of them writes (a barrier in front of
//! `apply_catalog`), which is exactly the interleaving a check-then-write would get wrong.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Barrier};
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_core::*;
use workflow_store_memory::MemoryStore;
use workflow_store_sqlite::SqliteStore;

const RACERS: usize = 4;

/// Holds every `apply_catalog` until all racers have arrived (armed only during the race).
struct GateWrites {
    barrier: Barrier,
    armed: std::sync::atomic::AtomicBool,
}

impl<S> Interceptor<S> for GateWrites {
    fn before(&self, _: &S, call: Call<'_>) -> StoreResult<()> {
        if matches!(call, Call::ApplyCatalog)
            && self.armed.load(std::sync::atomic::Ordering::SeqCst)
        {
            self.barrier.wait();
        }
        Ok(())
    }
}

fn race<S: Store + 'static>(store: S) {
    let gate = GateWrites {
        barrier: Barrier::new(RACERS),
        armed: false.into(),
    };
    let engine = Arc::new(Engine::new(Intercepted::new(store, gate)));
    let tenant = TenantId(uuid::Uuid::from_u128(1));
    engine
        .put_tenant(Tenant {
            id: tenant,
            name: "acme".into(),
        })
        .unwrap();
    let folder = PathPartId(uuid::Uuid::from_u128(2));
    let doc = PathPartId(uuid::Uuid::from_u128(3));
    engine
        .put_part(tenant, folder, PathPartKind::Folder, "shared", None)
        .unwrap();
    engine
        .put_part(tenant, doc, PathPartKind::Document, "spec.md", Some(folder))
        .unwrap();
    let first = PathPartId(uuid::Uuid::from_u128(10));
    engine
        .put_version(tenant, doc, first, Ingestion::Completed, true)
        .unwrap();

    engine
        .store()
        .hook
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let threads: Vec<_> = (0..RACERS)
        .map(|i| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                let v = PathPartId(uuid::Uuid::from_u128(100 + i as u128));
                engine
                    .put_version(tenant, doc, v, Ingestion::Completed, true)
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a racer panicked");
    }
    let versions = engine.store().children(tenant, doc).unwrap();
    assert_eq!(versions.len(), RACERS + 1);
    let active: Vec<_> = versions
        .iter()
        .filter(|v| v.version.as_ref().is_some_and(|i| i.active))
        .map(|v| v.id)
        .collect();
    assert_eq!(
        active.len(),
        1,
        "active versions after the race: {active:?}"
    );
    assert_ne!(active[0], first, "one of the racers' versions won");
}

#[test]
fn racing_activations_leave_one_active_version_memory() {
    race(MemoryStore::new());
}

#[test]
fn racing_activations_leave_one_active_version_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    race(SqliteStore::open(dir.path().join("race.sqlite")).unwrap());
}
