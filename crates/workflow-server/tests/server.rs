//! The standalone server (SPEC section 8): the local runner, the background relay and reaper,
//! graceful shutdown with a request in flight, and the `workflow-server` binary itself
//! (flags, fixture, SIGTERM, the SQLite file surviving a restart).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workflow_conformance::intercept::{Call, Intercepted, Interceptor};
use workflow_core::*;
use workflow_http::HttpConfig;
use workflow_server::runner::{channel, complete_attempt, spawn_local_runner};
use workflow_server::{load_fixture, parse_fixture, serve, Maintenance, DEMO_FIXTURE};
use workflow_store_memory::MemoryStore;

const OWNER: &str = "sk-user-demo-owner";

fn fixture() -> Fixture {
    parse_fixture(DEMO_FIXTURE).unwrap()
}

fn def_id(f: &Fixture, name: &str) -> DefinitionId {
    f.definitions.iter().find(|d| d.name == name).unwrap().id
}

fn owner(engine: &Engine<impl Store>) -> Actor {
    Actor::of(&engine.store().user_by_api_key(OWNER).unwrap().unwrap())
}

/// One HTTP/1.1 request over a fresh connection; returns status and JSON body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {OWNER}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn poll_until<F: Fn() -> bool>(f: F) {
    // Bounded wait for background work; generous, never a timing assertion.
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached");
}

/// SPEC section 8 `--runner local`: a dispatched attempt is completed by the simulated agent
/// through the callback path, with one output document; a cancelled attempt writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_runner_completes_dispatched_attempts() {
    let (dispatcher, inbox) = channel();
    let engine = Arc::new(Engine::new(MemoryStore::new()).with_dispatcher(Arc::new(dispatcher)));
    let f = fixture();
    load_fixture(&engine, &f).unwrap();
    let runner = spawn_local_runner(engine.clone(), inbox, Duration::from_millis(10));
    let actor = owner(&engine);
    let run = engine
        .create_run(&actor, def_id(&f, "summarise"), CreateRun::default())
        .unwrap();
    engine
        .start_run(&actor, run.id, StartRun::default())
        .unwrap();
    let (e, a) = (engine.clone(), actor.clone());
    poll_until(|| e.get_run(&a, run.id).unwrap().execution_state == ExecutionState::Completed)
        .await;
    let done = engine.get_run(&actor, run.id).unwrap();
    assert_eq!(done.approval_state, ApprovalState::Pending);
    let outputs = engine
        .documents_in(done.tenant_id, done.folders.outputs_id)
        .unwrap();
    assert_eq!(outputs.len(), 1);
    let history = engine.history(done.tenant_id, run.id).unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.event, Event::Completed);
    assert!(
        last.actor.assumed,
        "the runner reports as the triggerer, assumed"
    );
    runner.abort();
}

/// REAP-1 through the server's background task: a run past its deadline is failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_reaps_expired_runs() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine = Arc::new(Engine::new(MemoryStore::new()).with_clock(clock.clone()));
    let f = fixture();
    load_fixture(&engine, &f).unwrap();
    let actor = owner(&engine);
    let run = engine
        .create_run(&actor, def_id(&f, "triage"), CreateRun::default())
        .unwrap();
    engine
        .start_run(&actor, run.id, StartRun::default())
        .unwrap();
    clock.advance(chrono::Duration::hours(3));
    let m = Maintenance::spawn(engine.clone(), Duration::from_millis(5));
    let (e, a) = (engine.clone(), actor.clone());
    poll_until(|| e.get_run(&a, run.id).unwrap().execution_state == ExecutionState::Failed).await;
    m.stop().await;
    assert_eq!(
        engine.get_run(&actor, run.id).unwrap().error.as_deref(),
        Some("Timed out")
    );
}

/// SCHED-3 through the server's background task: a due occurrence becomes one started run,
/// however many ticks pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_fires_due_schedules() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let engine = Arc::new(Engine::new(MemoryStore::new()).with_clock(clock.clone()));
    let f = fixture();
    load_fixture(&engine, &f).unwrap();
    let actor = owner(&engine);
    let def = engine
        .store()
        .definition(actor.tenant_id, def_id(&f, "triage"))
        .unwrap()
        .unwrap();
    engine
        .put_definition(
            &actor,
            def.id,
            PutDefinition {
                name: def.name.clone(),
                is_active: true,
                approval_required: def.approval_required,
                max_run_duration_seconds: Some(def.max_run_duration_seconds),
                schedule: ScheduleFields {
                    cadence: Some(ScheduleCadence::Daily),
                    start_at: Some(clock.now() + chrono::Duration::minutes(1)),
                    timezone: Some("Europe/London".into()),
                },
                ..PutDefinition::default()
            },
        )
        .unwrap();
    clock.advance(chrono::Duration::minutes(2));
    let m = Maintenance::spawn(engine.clone(), Duration::from_millis(5));
    let runs = |e: &Engine<MemoryStore>| {
        e.store()
            .list_runs(&RunQuery {
                definition_id: Some(def.id),
                ..RunQuery::all(def.tenant_id)
            })
            .unwrap()
            .items
    };
    let e = engine.clone();
    poll_until(|| runs(&e).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    m.stop().await;
    let runs = runs(&engine);
    assert_eq!(runs.len(), 1, "one run however many ticks");
    assert_eq!(runs[0].execution_state, ExecutionState::InProgress);
    assert_eq!(runs[0].triggered_by, def.owner_id);
}

/// The gate of a store whose `load_run` waits: lets a test hold a request in flight.
struct Gate {
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Interceptor<MemoryStore> for Gate {
    fn before(&self, _: &MemoryStore, call: Call<'_>) -> StoreResult<()> {
        if !matches!(call, Call::LoadRun(..)) {
            return Ok(());
        }
        let tx = self.entered.lock().unwrap().take();
        if let Some(tx) = tx {
            tx.send(()).unwrap();
            let rx = self.release.lock().unwrap().take().unwrap();
            rx.recv().unwrap();
        }
        Ok(())
    }
}

/// Graceful shutdown: a request in flight when shutdown begins still gets its answer, and
/// `serve` then returns cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let engine = Arc::new(Engine::new(Intercepted::new(
        MemoryStore::new(),
        Gate {
            entered: Mutex::new(None),
            release: Mutex::new(Some(release_rx)),
        },
    )));
    let f = fixture();
    load_fixture(&engine, &f).unwrap();
    let run = engine
        .create_run(&owner(&engine), def_id(&f, "triage"), CreateRun::default())
        .unwrap();
    *engine.store().hook.entered.lock().unwrap() = Some(entered_tx);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        engine.clone(),
        listener,
        HttpConfig::default(),
        async {
            let _ = stop_rx.await;
        },
    ));
    let a = addr.clone();
    let in_flight = tokio::task::spawn_blocking(move || {
        http(&a, "GET", &format!("/v1/workflow-runs/{}", run.id), None)
    });
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();
    stop_tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    release_tx.send(()).unwrap();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["id"], run.id.to_string());
    server.await.unwrap().unwrap();
}

// ------------------------------------------------------------------------------- the binary

struct Server {
    child: Child,
    addr: String,
}

fn start_binary(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_workflow-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.strip_prefix("workflow-server listening on http://") {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, addr }
}

fn sigterm(mut s: Server) -> std::process::ExitStatus {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    s.child.wait().unwrap()
}

/// SPEC section 8: the flags exist (`--help`).
#[test]
fn binary_help_lists_the_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_workflow-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--db",
        "--listen",
        "--fixture",
        "--runner",
        "--runner-delay-ms",
        "--demo",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

/// FIX-1 and SPEC section 8 end to end: `--fixture` twice on one SQLite file changes nothing;
/// a run survives a SIGTERM (graceful: exit 0) and restart; `--demo` serves the demo tenant.
#[test]
fn binary_sqlite_fixture_sigterm_restart_fix_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let fx = dir.path().join("fixture.json");
    std::fs::write(&fx, DEMO_FIXTURE).unwrap();
    let f = fixture();
    let def = def_id(&f, "summarise");
    let args = [
        "--db",
        db.to_str().unwrap(),
        "--fixture",
        fx.to_str().unwrap(),
        "--runner",
        "none",
    ];

    let s = start_binary(&args);
    let (status, run) = http(
        &s.addr,
        "POST",
        &format!("/v1/workflow-definitions/{def}/runs"),
        Some(&json!({"name": "durable"})),
    );
    assert_eq!(status, 201, "{run}");
    let (status, _) = http(
        &s.addr,
        "POST",
        &format!("/v1/workflow-runs/{}/start", run["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 202);
    assert!(sigterm(s).success(), "graceful shutdown exits 0");

    let s = start_binary(&args);
    let (status, got) = http(
        &s.addr,
        "GET",
        &format!("/v1/workflow-runs/{}", run["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(got["execution_state"], "IN_PROGRESS");
    let (_, page) = http(&s.addr, "GET", "/v1/workflow-runs", None);
    assert_eq!(page["total"], 1);
    let (_, d) = http(
        &s.addr,
        "GET",
        &format!("/v1/workflow-definitions/{def}"),
        None,
    );
    assert_eq!(d["name"], "summarise");
    assert!(sigterm(s).success());

    let s = start_binary(&["--demo", "--memory"]);
    let (status, d) = http(
        &s.addr,
        "GET",
        &format!("/v1/workflow-definitions/{def}"),
        None,
    );
    assert_eq!((status, d["approval_required"].clone()), (200, json!(true)));
    assert!(sigterm(s).success());
}

/// Keeps every dispatch, so a test can play the runner's completion by hand.
#[derive(Default)]
struct Recorder(Mutex<Vec<Dispatch>>);

impl Dispatcher for Recorder {
    fn dispatch(&self, d: &Dispatch) -> Result<(), DispatchError> {
        self.0.lock().unwrap().push(d.clone());
        Ok(())
    }
    fn cancel(&self, _: &Cancel) -> Result<(), DispatchError> {
        Ok(())
    }
}

impl Recorder {
    fn last(&self) -> Dispatch {
        self.0.lock().unwrap().last().cloned().unwrap()
    }
}

/// FIX-1: loading the same fixture twice changes nothing; a file of another shape is refused.
#[test]
fn fix_1_fixture_twice() {
    let engine = Engine::new(MemoryStore::new());
    let f = fixture();
    load_fixture(&engine, &f).unwrap();
    let actor = owner(&engine);
    let before = engine
        .get_definition(&actor, def_id(&f, "summarise"))
        .unwrap();
    load_fixture(&engine, &f).unwrap();
    let after = engine
        .get_definition(&actor, def_id(&f, "summarise"))
        .unwrap();
    assert_eq!(before, after);
    let tenant = f.tenants[0].id;
    assert_eq!(engine.store().definitions(tenant).unwrap().len(), 2);
    assert!(parse_fixture("{\"tenants\": 5}").is_err());
}

/// CB-3, CB-4 through the local runner's completion: a stopped attempt's late result changes
/// nothing (and writes no output); after a retry, attempt 1's result is stale; the live
/// attempt completes with one output named after it.
#[test]
fn local_runner_late_results_ignored() {
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::new(MemoryStore::new()).with_dispatcher(recorder.clone());
    let f = fixture();
    load_fixture(&engine, &f).unwrap();
    let actor = owner(&engine);
    let run = engine
        .create_run(&actor, def_id(&f, "triage"), CreateRun::default())
        .unwrap();
    engine
        .start_run(&actor, run.id, StartRun::default())
        .unwrap();
    engine.relay_outbox().unwrap();
    let first = recorder.last();
    engine.stop_run(&actor, run.id).unwrap();
    assert_eq!(
        complete_attempt(&engine, &first).unwrap(),
        "already_terminal"
    );
    engine.retry_run(&actor, run.id).unwrap();
    engine.relay_outbox().unwrap();
    assert_eq!(complete_attempt(&engine, &first).unwrap(), "stale_attempt");
    let r = engine.get_run(&actor, run.id).unwrap();
    assert_eq!(r.execution_state, ExecutionState::InProgress);
    let outputs = |e: &Engine<MemoryStore>| {
        let r = e.get_run(&actor, run.id).unwrap();
        e.documents_in(r.tenant_id, r.folders.outputs_id).unwrap()
    };
    assert!(outputs(&engine).is_empty());
    let second = recorder.last();
    assert_eq!(second.key.attempt, 2);
    assert_eq!(complete_attempt(&engine, &second).unwrap(), "updated");
    let r = engine.get_run(&actor, run.id).unwrap();
    assert_eq!(r.execution_state, ExecutionState::Completed);
    let out = outputs(&engine);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].name, "result-attempt-2.md");
}
