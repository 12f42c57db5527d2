//! Scale-out with real server processes on one PostgreSQL database (SCALE-1, SCALE-2,
//! SCALE-3): three `workflow-server` processes relay one outbox to a recording webhook
//! receiver; every dispatch arrives exactly once; a relay SIGKILLed mid-way leaves its leased
//! messages to the others after the lease; a schedule due in all three processes fires once.
//!
//! Needs `WORKFLOW_PG_URL` (a superuser URL of a throwaway cluster: `scripts/pg.sh start DIR`);
//! without it the tests skip, except under CI (`CI` set), where a missing database fails them.
//! `WORKFLOW_PG_RELAY_DISPATCHES` sets the exactly-once count (default 3000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod pg_common;

use pg_common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workflow_core::*;
use workflow_store_postgres::PgStore;

/// A webhook receiver that records every delivery's `webhook-id` and answers 200, after
/// `delay_ms`. One thread per connection, HTTP/1.1 keep-alive.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<HashMap<String, u32>>>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        url
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let (mut length, mut id) = (0usize, None);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = v.trim().parse().unwrap_or(0),
                        "webhook-id" => id = Some(v.trim().to_owned()),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if let Some(id) = id {
                *self.seen.lock().unwrap().entry(id).or_default() += 1;
            }
            std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
            if out
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
    }

    /// (distinct messages, deliveries).
    fn counts(&self) -> (usize, u32) {
        let seen = self.seen.lock().unwrap();
        (seen.len(), seen.values().sum())
    }

    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

/// Create and start `n` runs of `summarise` from 4 threads; their dispatches queue.
fn start_runs(e: &Arc<Engine<PgStore>>, n: usize) {
    let actor = owner(e);
    let def = DefinitionId(id(SUMMARISE));
    std::thread::scope(|s| {
        for t in 0..4 {
            let (e, actor) = (e.clone(), actor.clone());
            s.spawn(move || {
                for _ in (t..n).step_by(4) {
                    let run = e.create_run(&actor, def, CreateRun::default()).unwrap();
                    e.start_run(&actor, run.id, StartRun::default()).unwrap();
                }
            });
        }
    });
}

/// SCALE-1, SCALE-2: three server processes relay one database's outbox; each of the
/// dispatches is delivered exactly once (no crash, leases of 2 minutes). Then, with a slow
/// receiver, one of them is SIGKILLed mid-way: every message is still delivered, those it held
/// by another process after its lease (3 s), and at most its in-flight deliveries twice.
#[test]
fn scale_2_three_relays_deliver_each_dispatch_exactly_once_and_survive_a_kill() {
    let Some(admin) = pg_url() else { return };
    let n = workflow_conformance::env_count("WORKFLOW_PG_RELAY_DISPATCHES", 3000) as usize;
    assert!(n > 0);
    let db = FreshDb::new(&admin);
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::default();
    let hook = receiver.start();

    // Phase 1: no crash, long leases: exactly once.
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::spawn(&db.url, &hook, dir.path(), 120_000))
        .collect();
    let e = engine(&db.url);
    let started = Instant::now();
    start_runs(&e, n);
    wait_until("every dispatch delivered", Duration::from_secs(600), || {
        receiver.counts().0 >= n
    });
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(500)); // a late duplicate would show here
    let (distinct, deliveries) = receiver.counts();
    eprintln!(
        "SCALE-2: {n} dispatches through 3 relays in {:.1} s: {distinct} distinct, \
         {deliveries} deliveries",
        elapsed.as_secs_f64()
    );
    assert_eq!(distinct, n);
    assert_eq!(deliveries as usize, n, "a message was delivered twice");
    assert!(e.store().outbox_pending(10).unwrap().is_empty());
    drop(servers);

    // Phase 2: short leases, a slow receiver, one relay killed mid-way.
    receiver.clear();
    receiver.delay_ms.store(200, Ordering::SeqCst);
    let m = (n / 10).max(50);
    let mut servers: Vec<Server> = (0..3)
        .map(|_| Server::spawn(&db.url, &hook, dir.path(), 3_000))
        .collect();
    start_runs(&e, m);
    wait_until("a third delivered", Duration::from_secs(300), || {
        receiver.counts().0 >= m / 3
    });
    servers[0].kill();
    let killed_at = receiver.counts().0;
    // A message the killed relay delivered but did not record is delivered again after its
    // lease: wait until nothing is pending.
    wait_until(
        "every message, after the lease",
        Duration::from_secs(300),
        || receiver.counts().0 >= m && e.store().outbox_pending(1).unwrap().is_empty(),
    );
    let (distinct, deliveries) = receiver.counts();
    eprintln!(
        "SCALE-2 kill: {m} dispatches, relay killed after {killed_at}: {distinct} distinct, \
         {deliveries} deliveries"
    );
    assert_eq!(distinct, m);
    assert!(killed_at < m, "the relay was killed before the end");
    assert!(
        deliveries as usize <= m + RELAY_WORKERS,
        "more duplicates than the killed relay had deliveries in flight: {deliveries}"
    );
}

/// SCALE-3, SCHED-3: a DAILY schedule already due is fired by the maintenance of all three
/// server processes at once: one run; each process's reaper also sees the same expired run:
/// it fails once (one `failed` history record).
#[test]
fn scale_3_schedule_and_reaper_in_every_process_act_once() {
    let Some(admin) = pg_url() else { return };
    let db = FreshDb::new(&admin);
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::default();
    let hook = receiver.start();
    // The first server loads the fixture; then the test's engine can read the owner.
    let mut servers = vec![Server::spawn(&db.url, &hook, dir.path(), 120_000)];
    let e = engine(&db.url);
    let actor = owner(&e);
    // A run whose deadline passes while all three reapers are running.
    let doomed_def = e
        .create_definition(
            &actor,
            NewDefinition {
                parent_id: PathPartId(id(ENG_FOLDER)),
                name: "scale-3-doomed".into(),
                is_active: true,
                create_empty_instruction: true,
                max_run_duration_seconds: Some(60),
                ..NewDefinition::default()
            },
        )
        .unwrap();
    servers.extend((0..2).map(|_| Server::spawn(&db.url, &hook, dir.path(), 120_000)));
    // Started "ten minutes ago" (an engine on a clock set back): its deadline has passed.
    let now = SystemClock.now();
    let past = Engine::new(PgStore::connect(&db.url).unwrap())
        .with_clock(Arc::new(ManualClock::new(
            now - chrono::Duration::minutes(10),
        )))
        .with_config(EngineConfig {
            relay_after_commit: false,
            ..EngineConfig::default()
        });
    let doomed = past
        .create_run(&actor, doomed_def.id, CreateRun::default())
        .unwrap();
    past.start_run(&actor, doomed.id, StartRun::default())
        .unwrap();
    // Defined "ten minutes ago" with its first occurrence five minutes ago (a definition's
    // change takes effect from its next occurrence, SCHED-5): due now in every process.
    let def = past
        .create_definition(
            &actor,
            NewDefinition {
                parent_id: PathPartId(id(ENG_FOLDER)),
                name: "scale-3-nightly".into(),
                is_active: true,
                create_empty_instruction: true,
                schedule: ScheduleFields {
                    cadence: Some(ScheduleCadence::Daily),
                    start_at: Some(now - chrono::Duration::minutes(5)),
                    timezone: Some("UTC".into()),
                },
                ..NewDefinition::default()
            },
        )
        .unwrap();
    drop(past);
    let runs_of = |d: DefinitionId| {
        e.store()
            .list_runs(&RunQuery {
                definition_id: Some(d),
                ..RunQuery::all(actor.tenant_id)
            })
            .unwrap()
    };
    wait_until("the schedule fired", Duration::from_secs(60), || {
        runs_of(def.id).total >= 1
    });
    wait_until("the doomed run reaped", Duration::from_secs(60), || {
        e.get_run(&actor, doomed.id).unwrap().execution_state == ExecutionState::Failed
    });
    // Every process has had many more ticks to fire or reap again.
    std::thread::sleep(Duration::from_secs(2));
    let fired = runs_of(def.id);
    assert_eq!(fired.total, 1, "one run per occurrence: {:?}", fired.items);
    let history = e.store().history(actor.tenant_id, doomed.id).unwrap();
    let failures = history
        .iter()
        .filter(|h| h.to == Some(ExecutionState::Failed))
        .count();
    assert_eq!(failures, 1, "reaped once: {history:?}");
    drop(servers);
}
