//! CONC-4 / CONC-5 / AUDIT-1 under SIGKILL: a child process (this test binary, in child mode)
//! runs a storm of transitions on a shared file and prints each acknowledged one; the parent
//! kills it at a random moment, reopens the file and checks that no acknowledged transition was
//! lost, that no transition exists without its history and outbox rows, and that
//! `PRAGMA integrity_check` is ok. `WORKFLOW_KILL_ITERATIONS` (default 200) sets the number of
//! kills; odd iterations use `Durability::Normal`, which must also survive a process crash.
//! Group commit is on (the default), so concurrent transitions of the child share
//! transactions; `WORKFLOW_GROUP_KILL_ITERATIONS` (default 30) kills a child committing from
//! 16 threads at `Durability::Full`, where batches are large.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use workflow_core::*;
use workflow_store_sqlite::{Durability, SqliteOptions, SqliteStore};

const CHILD_ENV: &str = "WORKFLOW_SQLITE_KILL_CHILD_DB";
const DURABILITY_ENV: &str = "WORKFLOW_SQLITE_KILL_CHILD_NORMAL";
const OPEN_ENV: &str = "WORKFLOW_SQLITE_KILL_CHILD_OPEN_DIR";
const THREADS_ENV: &str = "WORKFLOW_SQLITE_KILL_CHILD_THREADS";

/// Child mode: a no-op unless the parent set `WORKFLOW_SQLITE_KILL_CHILD_OPEN_DIR`. Creates
/// (and so migrates) new database files in that directory until it is killed.
#[test]
fn kill_child_open() {
    let Ok(dir) = std::env::var(OPEN_ENV) else {
        return;
    };
    println!("READY");
    for n in 0.. {
        let path = std::path::Path::new(&dir).join(format!("fresh-{n}.sqlite"));
        drop(SqliteStore::open(&path).unwrap());
    }
}

/// CONC-4: a process killed while it creates and migrates database files leaves every file
/// openable: the migration is one transaction, so reopening finds no schema or the whole
/// schema, never a part of it.
#[test]
fn conc_4_kill_during_migration_leaves_every_file_openable() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::from_time();
    let exe = std::env::current_exe().unwrap();
    for _ in 0..20 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_child_open",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(OPEN_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.ends_with("READY\n") && stdout.read_line(&mut line).unwrap() > 0 {}
        std::thread::sleep(std::time::Duration::from_millis(1 + rng.below(20)));
        child.kill().unwrap();
        child.wait().unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sqlite") {
                let store = SqliteStore::open(&path).unwrap();
                assert!(store.tenant(tenant()).unwrap().is_none());
                drop(store);
                let c = rusqlite::Connection::open(&path).unwrap();
                let v: i64 = c
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(
                    v,
                    workflow_store_sqlite::SCHEMA_VERSION,
                    "{}",
                    path.display()
                );
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
}

/// Child mode: a no-op unless the parent set `WORKFLOW_SQLITE_KILL_CHILD_DB`.
#[test]
fn kill_child_storm() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    println!("READY");
    let durability = if std::env::var(DURABILITY_ENV).is_ok() {
        Durability::Normal
    } else {
        Durability::Full
    };
    let options = SqliteOptions {
        durability,
        ..SqliteOptions::default()
    };
    let engine = Arc::new(Engine::new(SqliteStore::open_with(&path, options).unwrap()));
    let threads: u64 = std::env::var(THREADS_ENV)
        .map(|t| t.parse().unwrap())
        .unwrap_or(2);
    let threads: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || storm(&engine, t))
        })
        .collect();
    // How much the commits were batched so far (group commit), for the parent to check.
    let monitor = engine.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(2));
        let s = monitor.store().group_commit_stats();
        let mut out = std::io::stdout().lock();
        writeln!(out, "BATCHES {} {}", s.commits, s.batches).unwrap();
        out.flush().unwrap();
    });
    for t in threads {
        t.join().unwrap();
    }
}

fn ack(run: &Run) {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ACK {} {} {}",
        run.id, run.version, run.execution_state
    )
    .unwrap();
    out.flush().unwrap();
}

fn storm(engine: &Engine<SqliteStore>, seed: u64) {
    let mut rng = Rng(Rng::from_time().0 ^ (seed + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let user = actor(engine.store(), TRIGGERER);
    let def = DefinitionId(wid(DEF));
    loop {
        let run = engine.create_run(&user, def, CreateRun::default()).unwrap();
        ack(&run);
        let run = engine
            .start_run(&user, run.id, StartRun::default())
            .unwrap();
        ack(&run);
        let mut run = match rng.below(3) {
            0 => engine.stop_run(&user, run.id).unwrap(),
            n => {
                let status = if n == 1 {
                    CallbackStatus::Completed
                } else {
                    CallbackStatus::Failed
                };
                let cb = Callback {
                    status,
                    error: None,
                    attempt: Some(run.attempt),
                };
                engine
                    .callback(&user.clone().assumed(), run.id, cb)
                    .unwrap()
                    .run
            }
        };
        ack(&run);
        if run.execution_state == ExecutionState::Failed && rng.below(2) == 0 {
            run = engine.retry_run(&user, run.id).unwrap();
            ack(&run);
            run = engine.stop_run(&user, run.id).unwrap();
            ack(&run);
        }
        if rng.below(4) == 0 {
            let version = run.version;
            engine.delete_run(&user, run.id).unwrap();
            let mut out = std::io::stdout().lock();
            writeln!(out, "DEL {} {}", run.id, version + 1).unwrap();
            out.flush().unwrap();
        }
    }
}

/// CONC-4: SIGKILL at random moments never loses an acknowledged transition nor splits one from
/// its history and outbox rows (CONC-5, AUDIT-1); the file passes `integrity_check`.
#[test]
fn conc_4_kill_storm_keeps_every_acknowledged_transition() {
    let iterations: u64 = workflow_conformance::env_count("WORKFLOW_KILL_ITERATIONS", 200);
    kill_storm(iterations, 2, true, 30);
}

/// CONC-4 with group commit under load: the child commits from 16 threads at
/// `Durability::Full`, so most transactions are group-commit batches of several callers, and is
/// SIGKILLed mid-load; after reopening, every commit it acknowledged (printed only once
/// `Store::commit` returned, i.e. after its batch's COMMIT) is there, whole.
#[test]
fn conc_4_group_commit_kill_16_committers_keeps_every_acknowledged_commit() {
    let iterations: u64 = workflow_conformance::env_count("WORKFLOW_GROUP_KILL_ITERATIONS", 30);
    kill_storm(iterations, 16, false, 80);
}

/// Runs `iterations` children of `threads` storm threads each (odd iterations at
/// `Durability::Normal` when `normal_on_odd`, else all at `Full`), kills each 1..=`max_ms` ms
/// after it is ready, and checks the reopened file after each kill.
fn kill_storm(iterations: u64, threads: u32, normal_on_odd: bool, max_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = world_file(dir.path(), "kill.sqlite");
    let mut rng = Rng::from_time();
    println!("kill test seed {}", rng.0);
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged = 0usize;
    // The most commits that shared a transaction with another one, in any child.
    let mut batched = 0u64;
    for i in 0..iterations {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--exact",
            "kill_child_storm",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .env(THREADS_ENV, threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if normal_on_odd && i % 2 == 1 {
            cmd.env(DURABILITY_ENV, "1");
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
            text
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness may print "test kill_child_storm ... " before the first line.
                if line.ends_with("READY") {
                    let _ = ready_tx.send(());
                }
                lines.push(line);
            }
            lines
        });
        // Wait until the child runs, then kill it after 1..=max_ms ms: some kills land while it
        // opens (and recovers) the file, most in the middle of the storm.
        let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(1 + rng.below(max_ms)));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "iteration {i}: the child ended by itself"
        );
        let lines = reader.join().unwrap();
        // A child that failed on its own (a refused operation, a panic) would end its storm
        // early and hide the failure behind the kill.
        let errors = errors.join().unwrap();
        assert!(
            !errors.contains("panicked"),
            "iteration {i}: the child failed: {errors}"
        );

        let store = SqliteStore::open(&path).unwrap();
        for line in &lines {
            let start = ["ACK ", "DEL ", "BATCHES "]
                .iter()
                .find_map(|p| line.find(p))
                .unwrap_or(0);
            let parts: Vec<&str> = line[start..].split(' ').collect();
            match parts.as_slice() {
                ["ACK", id, version, state] => {
                    let id = RunId(id.parse().unwrap());
                    let version: usize = version.parse().unwrap();
                    let history = store.history(tenant(), id).unwrap();
                    assert!(
                        history.len() >= version,
                        "iteration {i}: acknowledged {line} lost; history {history:?}"
                    );
                    let to = history[version - 1].to.map(|s| s.to_string());
                    assert_eq!(to.as_deref(), Some(*state), "iteration {i}: {line}");
                    acknowledged += 1;
                }
                ["DEL", id, seq] => {
                    let id = RunId(id.parse().unwrap());
                    let seq: usize = seq.parse().unwrap();
                    let history = store.history(tenant(), id).unwrap();
                    assert_eq!(history.len(), seq, "iteration {i}: deletion {line} lost");
                    assert_eq!(history[seq - 1].event, Event::Deleted);
                    assert!(store.load_run(tenant(), id).unwrap().is_none());
                    acknowledged += 1;
                }
                ["BATCHES", commits, batches] => {
                    let (c, b): (u64, u64) = (commits.parse().unwrap(), batches.parse().unwrap());
                    batched = batched.max(c.saturating_sub(b));
                }
                _ => {}
            }
        }
        drop(store);
        check_invariants(&path);
    }
    println!(
        "{iterations} kills of {threads}-thread children, {acknowledged} acknowledged \
         transitions checked, up to {batched} commits of a child in shared transactions"
    );
    if threads >= 16 {
        assert!(batched > 0, "no commit ever shared a group-commit batch");
    }
    assert!(
        acknowledged > 0,
        "the children never got to commit anything"
    );
}
