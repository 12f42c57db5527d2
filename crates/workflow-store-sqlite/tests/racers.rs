//! CONC-1 / CONC-2 / CONC-3 across connections and processes: racers start, stop and call back
//! on shared runs; exactly one Start dispatches and exactly one terminal writer commits per run.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use workflow_core::*;
use workflow_store_sqlite::SqliteStore;

const CHILD_DB: &str = "WORKFLOW_SQLITE_RACER_DB";
const CHILD_RUNS: &str = "WORKFLOW_SQLITE_RACER_RUNS";
const CHILD_INDEX: &str = "WORKFLOW_SQLITE_RACER_INDEX";
const THREADS: usize = 4;
const PROCESSES: usize = 2;
const RUNS: usize = 24;

/// Waits until every process reached run `r` (files in the database's directory).
fn process_barrier(dir: &Path, r: usize, me: usize) {
    std::fs::write(dir.join(format!("go-{r}-{me}")), b"").unwrap();
    for p in 0..PROCESSES {
        while !dir.join(format!("go-{r}-{p}")).exists() {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

/// One racer thread: for every run, Start, then a callback (even racers) or a Stop (odd ones).
/// Reports `WIN <run>` for a callback that committed, `ERR ...` for anything not allowed.
fn racer(
    engine: &Engine<SqliteStore>,
    runs: &[RunId],
    g: usize,
    sync: &dyn Fn(usize),
) -> Vec<String> {
    let user = actor(engine.store(), TRIGGERER);
    let mut out = Vec::new();
    for (r, id) in runs.iter().enumerate() {
        sync(r);
        match engine.start_run(&user, *id, StartRun::default()) {
            Ok(run) if run.execution_state == ExecutionState::InProgress => {}
            Ok(run) => out.push(format!("ERR start answered {}", run.execution_state)),
            Err(Error::Conflict { .. }) => {} // already terminal (START-3)
            Err(e) => out.push(format!("ERR start {e}")),
        }
        if g % 2 == 0 {
            let cb = Callback {
                status: CallbackStatus::Completed,
                error: None,
                attempt: None,
            };
            match engine.callback(&user.clone().assumed(), *id, cb) {
                Ok(r) if r.outcome == CallbackOutcome::Updated => out.push(format!("WIN {id}")),
                Ok(_) => {}
                Err(e) => out.push(format!("ERR callback {e}")),
            }
        } else if let Err(e) = engine.stop_run(&user, *id) {
            out.push(format!("ERR stop {e}"));
        }
    }
    out
}

/// Runs `THREADS` racers over `runs` on one shared store; `leader_sync` aligns processes.
fn race_threads(
    engine: Arc<Engine<SqliteStore>>,
    runs: Arc<Vec<RunId>>,
    first_racer: usize,
    leader_sync: Arc<dyn Fn(usize) + Send + Sync>,
) -> Vec<std::thread::JoinHandle<Vec<String>>> {
    let barrier = Arc::new(Barrier::new(THREADS));
    (0..THREADS)
        .map(|t| {
            let (engine, runs, barrier, leader_sync) = (
                engine.clone(),
                runs.clone(),
                barrier.clone(),
                leader_sync.clone(),
            );
            std::thread::spawn(move || {
                let sync = |r: usize| {
                    if barrier.wait().is_leader() {
                        leader_sync(r);
                    }
                    barrier.wait();
                };
                racer(&engine, &runs, first_racer + t, &sync)
            })
        })
        .collect()
}

/// Child mode: a no-op unless the parent set `WORKFLOW_SQLITE_RACER_DB`.
#[test]
fn racer_child_process() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let runs: Vec<RunId> = std::env::var(CHILD_RUNS)
        .unwrap()
        .split(',')
        .map(|s| RunId(s.parse().unwrap()))
        .collect();
    let me: usize = std::env::var(CHILD_INDEX).unwrap().parse().unwrap();
    let dir = Path::new(&path).parent().unwrap().to_path_buf();
    let engine = Arc::new(Engine::new(SqliteStore::open(&path).unwrap()));
    let sync: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(move |r| process_barrier(&dir, r, me));
    let handles = race_threads(engine, Arc::new(runs), me * THREADS, sync);
    let mut stdout = std::io::stdout().lock();
    for h in handles {
        for line in h.join().unwrap() {
            writeln!(stdout, "\n{line}").unwrap();
        }
    }
    stdout.flush().unwrap();
}

fn drafts(path: &Path) -> Vec<RunId> {
    let store = SqliteStore::open(path).unwrap();
    let user = actor(&store, TRIGGERER);
    let engine = Engine::new(store);
    (0..RUNS)
        .map(|_| {
            engine
                .create_run(&user, DefinitionId(wid(DEF)), CreateRun::default())
                .unwrap()
                .id
        })
        .collect()
}

/// Exactly one Start and one terminal commit per run, one dispatch, and the callback winners
/// match the history.
fn check_races(path: &Path, runs: &[RunId], lines: &[String]) {
    let errors: Vec<_> = lines.iter().filter(|l| l.starts_with("ERR")).collect();
    assert!(errors.is_empty(), "racers failed: {errors:?}");
    let store = SqliteStore::open(path).unwrap();
    for id in runs {
        let h = store.history(tenant(), *id).unwrap();
        let events: Vec<Event> = h.iter().map(|r| r.event).collect();
        let starts = events.iter().filter(|e| **e == Event::Started).count();
        let terminal: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::Completed | Event::Stopped | Event::Failed))
            .collect();
        assert_eq!(
            starts, 1,
            "CONC-3: run {id} started {starts} times: {events:?}"
        );
        assert_eq!(terminal.len(), 1, "CONC-2: run {id}: {events:?}");
        assert_eq!(h.len(), 3, "run {id}: {events:?}");
        let dispatches = store
            .outbox_for_run(tenant(), *id)
            .unwrap()
            .iter()
            .filter(|e| matches!(e.message, OutboxMessage::Dispatch(_)))
            .count();
        assert_eq!(
            dispatches, 1,
            "CONC-3: run {id} dispatched {dispatches} times"
        );
        let wins = lines.iter().filter(|l| **l == format!("WIN {id}")).count();
        let completed = usize::from(*terminal[0] == Event::Completed);
        assert_eq!(
            wins, completed,
            "CONC-2: callback winners of {id}: {events:?}"
        );
    }
    drop(store);
    check_invariants(path);
    let wins = lines.iter().filter(|l| l.starts_with("WIN")).count();
    println!(
        "{} runs raced: {wins} won by a callback, the rest by a stop",
        runs.len()
    );
}

/// CONC-1, CONC-2, CONC-3 across processes: 2 processes × 4 threads race Start, Stop and
/// Callback on shared runs of one file; exactly one commit per race.
#[test]
fn conc_1_cross_process_racers_exactly_one_commit_per_race() {
    let dir = tempfile::tempdir().unwrap();
    let path = world_file(dir.path(), "race.sqlite");
    let runs = drafts(&path);
    let list: Vec<String> = runs.iter().map(|r| r.to_string()).collect();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "racer_child_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_DB, &path)
                .env(CHILD_RUNS, list.join(","))
                .env(CHILD_INDEX, p.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut lines = Vec::new();
    for mut child in children {
        let stdout = child.stdout.take().unwrap();
        lines.extend(BufReader::new(stdout).lines().map(|l| l.unwrap()));
        assert!(child.wait().unwrap().success(), "a racer process failed");
    }
    check_races(&path, &runs, &lines);
}

/// CONC-1, CONC-2, CONC-3 across connections in one process: two `SqliteStore` values on one
/// file (each shared by 4 threads) race Start, Stop and Callback; exactly one commit per race.
#[test]
fn conc_1_threads_with_own_connections_exactly_one_commit_per_race() {
    let dir = tempfile::tempdir().unwrap();
    let path = world_file(dir.path(), "race.sqlite");
    let runs = Arc::new(drafts(&path));
    let outer = Arc::new(Barrier::new(PROCESSES));
    let mut handles = Vec::new();
    for p in 0..PROCESSES {
        let engine = Arc::new(Engine::new(SqliteStore::open(&path).unwrap()));
        let outer = outer.clone();
        let sync: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(move |_| {
            outer.wait();
        });
        handles.extend(race_threads(engine, runs.clone(), p * THREADS, sync));
    }
    let lines: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    check_races(&path, &runs, &lines);
}
