//! CONC-1 / CONC-2 / CONC-3 across connections and processes (SCALE-1): 2 processes × 4
//! threads race Start, Stop and Callback on shared runs of one database; exactly one Start
//! dispatches and exactly one terminal writer commits per run.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use workflow_core::*;
use workflow_store_postgres::PgStore;

const CHILD_URL: &str = "WORKFLOW_PG_RACER_URL";
const CHILD_DIR: &str = "WORKFLOW_PG_RACER_DIR";
const CHILD_RUNS: &str = "WORKFLOW_PG_RACER_RUNS";
const CHILD_INDEX: &str = "WORKFLOW_PG_RACER_INDEX";
const THREADS: usize = 4;
const PROCESSES: usize = 2;
const RUNS: usize = 24;

/// Waits until every process reached run `r` (files in a shared directory).
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
fn racer(engine: &Engine<PgStore>, runs: &[RunId], g: usize, sync: &dyn Fn(usize)) -> Vec<String> {
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
    engine: Arc<Engine<PgStore>>,
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

/// Child mode: a no-op unless the parent set `WORKFLOW_PG_RACER_URL`.
#[test]
fn racer_child_process() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var(CHILD_DIR).unwrap());
    let runs: Vec<RunId> = std::env::var(CHILD_RUNS)
        .unwrap()
        .split(',')
        .map(|s| RunId(s.parse().unwrap()))
        .collect();
    let me: usize = std::env::var(CHILD_INDEX).unwrap().parse().unwrap();
    let engine = Arc::new(Engine::new(PgStore::connect(&url).unwrap()));
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

/// A populated World in the database, and `RUNS` drafts of its definition.
fn world_and_drafts(url: &str) -> Vec<RunId> {
    drop(workflow_conformance::world::World::new(
        PgStore::connect(url).unwrap(),
    ));
    let store = PgStore::connect(url).unwrap();
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

/// The durable-state invariants (CONC-5, AUDIT-1) over the whole database: every live run's
/// version equals its history length and its state the last record's; no history has a gap;
/// every run's dispatches and cancels match its history events.
fn check_invariants(db: &TempDb) {
    let mut c = db.client();
    let checks: &[(&str, &str)] = &[
        (
            "run row disagrees with its history (version, seq or state)",
            "SELECT r.id::text FROM runs r
             WHERE r.version <> (SELECT count(*) FROM history h WHERE h.run_id = r.id)
                OR r.version IS DISTINCT FROM (SELECT max(seq) FROM history h WHERE h.run_id = r.id)
                OR r.execution_state IS DISTINCT FROM
                   (SELECT to_state FROM history h WHERE h.run_id = r.id ORDER BY seq DESC LIMIT 1)",
        ),
        (
            "history with a gap",
            "SELECT run_id::text FROM history GROUP BY run_id
             HAVING count(*) <> max(seq) OR min(seq) <> 1",
        ),
        (
            "outbox does not match the history (CONC-5)",
            "SELECT h.run_id::text FROM (SELECT DISTINCT run_id FROM history) h
             WHERE (SELECT count(*) FROM outbox o WHERE o.run_id = h.run_id AND o.kind = 'dispatch')
                <> (SELECT count(*) FROM history x WHERE x.run_id = h.run_id
                    AND x.event IN ('started', 'retried'))
                OR (SELECT count(*) FROM outbox o WHERE o.run_id = h.run_id AND o.kind = 'cancel')
                <> (SELECT count(*) FROM history x WHERE x.run_id = h.run_id
                    AND x.event IN ('stopped', 'timed_out'))",
        ),
    ];
    for (what, sql) in checks {
        let bad: Vec<String> = c
            .query(*sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(bad.is_empty(), "{what}: {bad:?}");
    }
}

/// Exactly one Start and one terminal commit per run, one dispatch, and the callback winners
/// match the history.
fn check_races(db: &TempDb, runs: &[RunId], lines: &[String]) {
    let errors: Vec<_> = lines.iter().filter(|l| l.starts_with("ERR")).collect();
    assert!(errors.is_empty(), "racers failed: {errors:?}");
    let store = PgStore::connect(&db.url).unwrap();
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
    check_invariants(db);
    let wins = lines.iter().filter(|l| l.starts_with("WIN")).count();
    println!(
        "{} runs raced: {wins} won by a callback, the rest by a stop",
        runs.len()
    );
}

/// CONC-1, CONC-2, CONC-3, SCALE-1 across processes: 2 processes × 4 threads race Start, Stop
/// and Callback on shared runs of one database; exactly one commit per race.
#[test]
fn conc_1_scale_1_cross_process_racers_exactly_one_commit_per_race() {
    let Some(db) = TempDb::new() else { return };
    let runs = world_and_drafts(&db.url);
    let dir = tempfile::tempdir().unwrap();
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
                .env(CHILD_URL, &db.url)
                .env(CHILD_DIR, dir.path())
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
    check_races(&db, &runs, &lines);
}

/// CONC-1, CONC-2, CONC-3 across pools in one process: two `PgStore` values on one database
/// (each shared by 4 threads) race Start, Stop and Callback; exactly one commit per race.
#[test]
fn conc_1_threads_with_own_pools_exactly_one_commit_per_race() {
    let Some(db) = TempDb::new() else { return };
    let runs = Arc::new(world_and_drafts(&db.url));
    let outer = Arc::new(Barrier::new(PROCESSES));
    let mut handles = Vec::new();
    for p in 0..PROCESSES {
        let engine = Arc::new(Engine::new(PgStore::connect(&db.url).unwrap()));
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
    check_races(&db, &runs, &lines);
}
