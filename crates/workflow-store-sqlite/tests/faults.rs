//! Fault injection (ERR-2, CONC-5, AUDIT-1): the N-th storage call of a whole lifecycle fails,
//! for every N, once and then persistently. Every operation returns an error or succeeds,
//! nothing panics, an operation that returned an error wrote nothing, later operations of a
//! persistent fault all fail, and afterwards (read with a clean store on the same file) each
//! run is wholly in its old or its new state: row, history, outbox and folder agree.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use std::path::Path;
use std::sync::Arc;
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

/// Everything durable an operation could change, read through a separate clean connection.
fn footprint(c: &rusqlite::Connection) -> (i64, i64, i64, i64, i64) {
    c.query_row(
        "SELECT (SELECT count(*) FROM history), (SELECT count(*) FROM outbox),
                (SELECT count(*) FROM path_parts), (SELECT count(*) FROM runs),
                (SELECT total(version) FROM runs)",
        [],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, f64>(4)? as i64,
            ))
        },
    )
    .unwrap()
}

struct Driver<'a> {
    engine: &'a Engine<SqliteStore>,
    probe: rusqlite::Connection,
    results: Vec<(&'static str, bool)>,
}

impl Driver<'_> {
    /// Run one operation; an error must leave no trace (ERR-2).
    fn op<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&Engine<SqliteStore>) -> Result<T>,
    ) -> Option<T> {
        let before = footprint(&self.probe);
        let r = f(self.engine);
        if r.is_err() {
            assert_eq!(
                before,
                footprint(&self.probe),
                "{name} failed but wrote something"
            );
        }
        self.results.push((name, r.is_ok()));
        r.ok()
    }
}

fn lifecycle(d: &mut Driver<'_>, clock: &ManualClock, owner: &Actor, user: &Actor) {
    let def = DefinitionId(wid(DEF));
    let agent = user.clone().assumed();
    let cb = |status| Callback {
        status,
        error: Some("x".into()),
        attempt: None,
    };
    if let Some(a) = d.op("create A", |e| {
        e.create_run(user, def, CreateRun::default())
    }) {
        let update = UpdateRun {
            name: Some("renamed".into()),
            ..UpdateRun::default()
        };
        d.op("update A", |e| e.update_run(user, a.id, update));
        d.op("start A", |e| e.start_run(user, a.id, StartRun::default()));
        d.op("relay", |e| e.relay_outbox());
        d.op("callback A", |e| {
            e.callback(&agent, a.id, cb(CallbackStatus::Completed))
        });
        let approve = Approve {
            state: ApprovalState::Approved,
            reason: None,
        };
        d.op("approve A", |e| e.approve_run(owner, a.id, approve));
        d.op("clone A", |e| {
            e.clone_run(
                user,
                a.id,
                CloneRun {
                    include_inputs: true,
                },
            )
        });
        d.op("get A", |e| e.get_run(user, a.id));
        d.op("history A", |e| e.history(tenant(), a.id));
    }
    if let Some(b) = d.op("create B", |e| {
        e.create_run(user, def, CreateRun::default())
    }) {
        d.op("start B", |e| e.start_run(user, b.id, StartRun::default()));
        d.op("stop B", |e| e.stop_run(user, b.id));
        d.op("retry B", |e| e.retry_run(user, b.id));
        clock.advance(workflow_core::chrono::Duration::hours(3));
        d.op("reap", |e| e.reap_expired());
        d.op("retry B again", |e| e.retry_run(user, b.id));
        d.op("callback B", |e| {
            e.callback(&agent, b.id, cb(CallbackStatus::Failed))
        });
        d.op("delete B", |e| e.delete_run(user, b.id));
    }
    let upload = CreateRun {
        uploads: vec![NewUpload {
            name: "upload.txt".into(),
            ingestion: Ingestion::Processing,
        }],
        ..CreateRun::default()
    };
    if let Some(c) = d.op("create C", |e| e.create_run(user, def, upload)) {
        let version = d.op("find upload", |e| {
            let docs = e.documents_in(tenant(), c.folders.inputs_id)?;
            let doc = docs
                .first()
                .ok_or_else(|| Error::Internal("no upload".into()))?;
            let v = e.store().children(tenant(), doc.id)?;
            v.first()
                .map(|v| v.id)
                .ok_or_else(|| Error::Internal("no version".into()))
        });
        if let Some(v) = version {
            d.op("ingested", |e| {
                e.set_upload_ingestion(tenant(), v, Ingestion::Completed)
            });
        }
        d.op("start C", |e| e.start_run(user, c.id, StartRun::default()));
    }
    d.op("list", |e| e.list_runs(user, ListRuns::default()));
    d.op("relay again", |e| e.relay_outbox());
}

/// Returns how many storage calls the lifecycle made (the fault fired iff `n` is at most that).
fn run_with_fault(template: &Path, dir: &Path, n: u64, persistent: bool) -> u64 {
    let path = dir.join(format!("fault-{n}-{persistent}.sqlite"));
    copy_db(template, &path);
    let options = SqliteOptions {
        durability: Durability::Normal,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options.clone()).unwrap();
    let owner = actor(&store, OWNER);
    let user = actor(&store, TRIGGERER);
    let clock = Arc::new(ManualClock::new(workflow_conformance::world::epoch()));
    let engine = Engine::new(store).with_clock(clock.clone());
    let probe = rusqlite::Connection::open(&path).unwrap();
    engine.store().faults().arm(n, persistent);
    let mut d = Driver {
        engine: &engine,
        probe,
        results: Vec::new(),
    };
    lifecycle(&mut d, &clock, &owner, &user);
    let calls = engine.store().faults().calls();
    engine.store().faults().disarm();
    if persistent {
        // Once a call has failed, every later call fails too.
        if let Some(first) = d.results.iter().position(|(_, ok)| !ok) {
            let late_ok: Vec<_> = d.results[first..].iter().filter(|(_, ok)| *ok).collect();
            assert!(
                late_ok.is_empty(),
                "n={n}: succeeded after a persistent fault: {late_ok:?}"
            );
        }
    }
    if n > calls {
        let failed: Vec<_> = d.results.iter().filter(|(_, ok)| !ok).collect();
        assert!(
            failed.is_empty(),
            "the lifecycle fails without faults: {failed:?}"
        );
    } else {
        assert!(
            d.results.iter().any(|(_, ok)| !ok) || !persistent,
            "n={n}: a persistent fault was swallowed by every operation"
        );
    }
    drop(d);
    drop(engine);
    check_invariants(&path);
    // The file stays fully usable for a clean store.
    let clean = SqliteStore::open_with(&path, options).unwrap();
    let engine = Engine::new(clean);
    engine
        .create_run(&user, DefinitionId(wid(DEF)), CreateRun::default())
        .unwrap();
    drop(engine);
    let _ = std::fs::remove_file(&path);
    calls
}

fn every_n(persistent: bool) {
    let dir = tempfile::tempdir().unwrap();
    let template = world_file(dir.path(), "template.sqlite");
    let mut n = 1;
    loop {
        let calls = run_with_fault(&template, dir.path(), n, persistent);
        if n > calls {
            assert!(n > 50, "the lifecycle made only {calls} storage calls");
            break;
        }
        n += 1;
    }
    println!("faults injected at every one of {} storage calls", n - 1);
}

/// ERR-2: the N-th storage call fails once, for every N over a whole lifecycle.
#[test]
fn err_2_every_single_fault_writes_nothing_and_keeps_runs_whole() {
    every_n(false);
}

/// ERR-2: from the N-th storage call on everything fails, for every N over a whole lifecycle.
#[test]
fn err_2_every_persistent_fault_writes_nothing_and_keeps_runs_whole() {
    every_n(true);
}
