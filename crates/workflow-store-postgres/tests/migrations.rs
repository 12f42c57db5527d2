//! SCALE-4: migrations are versioned, run at connect, and a database whose schema is newer than
//! the binary is refused untouched; several processes starting at once on a fresh database all
//! succeed (the migration transaction holds an advisory lock).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::TempDb;
use std::sync::{Arc, Barrier};
use workflow_core::{Store, StoreErrorKind, Tenant, TenantId};
use workflow_store_postgres::{PgStore, SCHEMA_VERSION};

/// Tables with their row counts, and the migrations' (version, applied_at) rows.
type Fingerprint = (Vec<(String, i64)>, Vec<(i32, String)>);

/// Every table of the public schema with its row count, and the migrations' rows.
fn fingerprint(db: &TempDb) -> Fingerprint {
    let mut c = db.client();
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let counts = tables
        .into_iter()
        .map(|t| {
            let n: i64 = c
                .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .unwrap()
                .get(0);
            (t, n)
        })
        .collect();
    let migrations = c
        .query(
            "SELECT version, applied_at::text FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    (counts, migrations)
}

/// SCALE-4: a fresh database is migrated to SCHEMA_VERSION at connect; connecting again is a
/// no-op (the same rows, the same applied_at), and the data written in between is kept.
#[test]
fn scale_4_fresh_database_migrates_and_reconnect_is_a_no_op() {
    let Some(db) = TempDb::new() else { return };
    let store = PgStore::connect(&db.url).unwrap();
    let tenant = Tenant {
        id: TenantId(workflow_core::uuid::Uuid::new_v4()),
        name: "acme".into(),
    };
    store
        .apply_catalog(&[workflow_core::CatalogWrite::Tenant(tenant.clone())])
        .unwrap();
    drop(store);
    let (tables, migrations) = fingerprint(&db);
    assert_eq!(
        migrations.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
    for t in [
        "runs",
        "run_ids",
        "history",
        "outbox",
        "users",
        "schema_migrations",
    ] {
        assert!(
            tables.iter().any(|(n, _)| n == t),
            "no table {t}: {tables:?}"
        );
    }
    let again = PgStore::connect(&db.url).unwrap();
    assert_eq!(again.tenant(tenant.id).unwrap(), Some(tenant));
    drop(again);
    assert_eq!(fingerprint(&db), (tables, migrations));
}

/// SCALE-4: a database whose schema_migrations holds a version newer than this build is
/// refused with Corrupt, and nothing in it changes (tables, row counts, migration rows).
#[test]
fn scale_4_newer_schema_is_refused_untouched() {
    let Some(db) = TempDb::new() else { return };
    drop(PgStore::connect(&db.url).unwrap());
    db.client()
        .execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(SCHEMA_VERSION + 1)],
        )
        .unwrap();
    let before = fingerprint(&db);
    let err = PgStore::connect(&db.url).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("newer"), "{err}");
    assert_eq!(fingerprint(&db), before);
}

/// SCALE-4: eight connections racing to migrate one fresh database all succeed, and the
/// migrations ran once.
#[test]
fn scale_4_concurrent_first_connects_all_succeed() {
    let Some(db) = TempDb::new() else { return };
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, barrier) = (db.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PgStore::connect(&url).map(drop)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let (_, migrations) = fingerprint(&db);
    assert_eq!(migrations.len(), usize::try_from(SCHEMA_VERSION).unwrap());
}

/// A server that cannot be reached is a retryable Unavailable error, not a panic.
#[test]
fn unreachable_server_is_unavailable() {
    if common::pg_url().is_none() {
        return;
    }
    // Port 1 on loopback: nothing listens there.
    let err =
        PgStore::connect("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err}");
    assert!(std::error::Error::source(&err).is_some());
    let err = PgStore::connect("postgres://127.0.0.1:notaport/db").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Backend, "{err}");
}
