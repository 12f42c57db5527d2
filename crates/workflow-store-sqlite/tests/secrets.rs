//! Secrets at rest in the SQLite store: API keys only as SHA-256 digests, also in a database
//! written by an older version (migration 0004, SEC-3), and database files readable by their
//! owner only (SEC-4).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use workflow_core::*;
use workflow_store_sqlite::SqliteStore;

const TENANT: &str = "00000000-0000-4000-8000-0000000000aa";

fn user_id(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(0x1000 + n))
}

fn tenant() -> TenantId {
    TenantId(TENANT.parse().unwrap())
}

/// The database file and its WAL and shared-memory files, those that exist.
fn files(db: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut path = db.as_os_str().to_owned();
            path.push(suffix);
            let path = PathBuf::from(path);
            let bytes = std::fs::read(&path).ok()?;
            Some((path, bytes))
        })
        .collect()
}

fn holds(db: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(db)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p)
        .collect()
}

/// A version-3 database as the previous release wrote it: migrations 0001..0003 exactly as
/// shipped, in WAL mode, with users whose keys are in clear, one of them deleted again (its key
/// lingers in the page's free space).
fn version_3_database(db: &Path, keys: &[&str], deleted_key: &str) {
    let c = rusqlite::Connection::open(db).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    c.execute_batch(include_str!("../migrations/0001_init.sql"))
        .unwrap();
    c.execute_batch(include_str!("../migrations/0002_failure_kind.sql"))
        .unwrap();
    c.execute_batch(include_str!("../migrations/0003_outbox_retry.sql"))
        .unwrap();
    c.execute_batch("PRAGMA user_version = 3").unwrap();
    c.execute(
        "INSERT INTO tenants (id, name) VALUES (?1, 'acme')",
        [TENANT],
    )
    .unwrap();
    let insert = "INSERT INTO users (tenant_id, id, role, first_name, last_name, api_key) \
                  VALUES (?1, ?2, 'OWNER', 'A', 'B', ?3)";
    for (n, key) in keys.iter().enumerate() {
        let id = user_id(n as u128).0.to_string();
        c.execute(insert, rusqlite::params![TENANT, id, key])
            .unwrap();
    }
    let keyless = user_id(90).0.to_string();
    c.execute(insert, rusqlite::params![TENANT, keyless, None::<String>])
        .unwrap();
    let gone = user_id(99).0.to_string();
    c.execute(insert, rusqlite::params![TENANT, gone, deleted_key])
        .unwrap();
    c.execute("DELETE FROM users WHERE id = ?1", [gone])
        .unwrap();
}

/// SEC-3: opening a database written before keys were hashed (schema version 3) migrates it:
/// every key is replaced by its SHA-256 digest, lookups by key still find the user, and no
/// byte of the database, its WAL or its shared-memory file holds a key in clear any more, not
/// even one deleted before the migration (the file is rewritten).
#[test]
fn sec_3_migration_4_hashes_the_keys_of_an_old_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    let keys = [
        "sk-old-owner-7d1e93",
        "sk-old-admin-52aa0c",
        "sk-old-user-e8b4f1",
    ];
    let deleted = "sk-old-deleted-0b77c2";
    version_3_database(&db, &keys, deleted);
    // The test can fail: before the migration the keys are there in clear.
    for key in keys.iter().chain([&deleted]) {
        assert!(!holds(&db, key.as_bytes()).is_empty(), "{key} not written");
    }

    let store = SqliteStore::open(&db).unwrap();
    for (n, key) in keys.iter().enumerate() {
        let user = store.user_by_api_key(key).unwrap().expect(key);
        assert_eq!(user.id, user_id(n as u128));
        assert_eq!(user.api_key, Some(ApiKeyDigest::of(key)));
        assert_eq!(
            store.user(tenant(), user.id).unwrap().unwrap().api_key,
            Some(ApiKeyDigest::of(key))
        );
    }
    assert_eq!(
        store.user(tenant(), user_id(90)).unwrap().unwrap().api_key,
        None
    );
    assert!(store.user_by_api_key(deleted).unwrap().is_none());
    assert!(store.user_by_api_key("sk-wrong").unwrap().is_none());
    let check = |when: &str| {
        for key in keys.iter().chain([&deleted]) {
            let found = holds(&db, key.as_bytes());
            assert!(found.is_empty(), "{when}: {key} in clear in {found:?}");
        }
        for key in keys {
            let found = holds(&db, ApiKeyDigest::of(key).as_bytes());
            assert!(!found.is_empty(), "{when}: the digest of {key} is missing");
        }
    };
    check("open");
    drop(store);
    check("closed");
    // The column of keys in clear is gone.
    let c = rusqlite::Connection::open(&db).unwrap();
    let columns: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('users')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        columns.contains(&"api_key_sha256".to_owned()),
        "{columns:?}"
    );
    assert!(!columns.contains(&"api_key".to_owned()), "{columns:?}");
}

/// SEC-3 on a new database: a user written with a key is stored with the digest only.
#[test]
fn sec_3_new_database_stores_digests_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.sqlite");
    let key = "sk-new-3a9f0e1d27";
    let store = SqliteStore::open(&db).unwrap();
    store
        .apply_catalog(&[
            CatalogWrite::Tenant(Tenant {
                id: tenant(),
                name: "acme".into(),
            }),
            CatalogWrite::User(User {
                id: user_id(1),
                tenant_id: tenant(),
                role: Role::Owner,
                first_name: "A".into(),
                last_name: "B".into(),
                api_key: Some(ApiKeyDigest::of(key)),
                grants: vec![],
            }),
        ])
        .unwrap();
    assert_eq!(store.user_by_api_key(key).unwrap().unwrap().id, user_id(1));
    assert!(holds(&db, key.as_bytes()).is_empty());
    assert!(!holds(&db, ApiKeyDigest::of(key).as_bytes()).is_empty());
}

/// SEC-4: a database the store creates, and the WAL and shared-memory files SQLite creates
/// beside it, are readable and writable by their owner only (0600), whatever the umask lets
/// through (the test's umask typically allows 0644).
#[cfg(unix)]
#[test]
fn sec_4_database_wal_and_shm_are_created_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("private.sqlite");
    let store = SqliteStore::open(&db).unwrap();
    store
        .apply_catalog(&[CatalogWrite::Tenant(Tenant {
            id: tenant(),
            name: "acme".into(),
        })])
        .unwrap();
    let found = files(&db);
    assert_eq!(found.len(), 3, "{found:?}");
    for (path, _) in found {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path:?} has mode {mode:o}");
    }
}
