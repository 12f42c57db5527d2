//! DISP-7: `GET /metrics` exposes queued messages, deliveries and failures by adapter, dead
//! letters, runs by state and request latency, in the Prometheus text format.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workflow_core::*;
use workflow_http::HttpConfig;
use workflow_server::metrics::{Metrics, RelayMetrics};
use workflow_server::{load_fixture, parse_fixture, serve_with_metrics, DEMO_FIXTURE};
use workflow_store_memory::MemoryStore;

/// Refuses its first dispatch for good (a dead letter), fails the second once (a retry), and
/// accepts the rest.
#[derive(Default)]
struct Picky(AtomicUsize);

impl Dispatcher for Picky {
    fn dispatch(&self, _: &Dispatch) -> Result<(), DispatchError> {
        match self.0.fetch_add(1, Ordering::SeqCst) {
            0 => Err(DispatchError {
                retryable: false,
                message: "refused".into(),
                retry_after: None,
            }),
            1 => Err(DispatchError {
                retryable: true,
                message: "busy".into(),
                retry_after: None,
            }),
            _ => Ok(()),
        }
    }
    fn cancel(&self, _: &Cancel) -> Result<(), DispatchError> {
        Ok(())
    }
}

async fn get(addr: std::net::SocketAddr, path: &str, key: Option<&str>) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    conn.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    answer
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .map(|v| v.trim().parse::<f64>().unwrap())
        })
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

/// DISP-7: every metric the SPEC names, after one dead letter, one retry, deliveries and requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disp_7_metrics_expose_delivery_runs_and_latency() {
    let metrics = Arc::new(Metrics::new());
    let engine = Arc::new(
        Engine::new(MemoryStore::new())
            .with_dispatcher(Arc::new(Picky::default()))
            .with_config(EngineConfig {
                relay_after_commit: false,
                ..EngineConfig::default()
            })
            .with_relay_observer(Arc::new(RelayMetrics {
                adapter: "test",
                metrics: metrics.clone(),
            })),
    );
    let fixture = parse_fixture(DEMO_FIXTURE).unwrap();
    load_fixture(&engine, &fixture).unwrap();
    let owner = fixture
        .users
        .iter()
        .find(|u| u.role == Role::Owner)
        .unwrap();
    let key = owner.api_key.clone().unwrap();
    let actor = Actor::of(&engine.store().user_by_api_key(&key).unwrap().unwrap());
    let def = fixture
        .definitions
        .iter()
        .find(|d| d.is_active && !d.is_template)
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = engine
            .create_run(&actor, def.id, CreateRun::default())
            .unwrap();
        engine.start_run(&actor, r.id, StartRun::default()).unwrap();
        ids.push(r.id);
    }
    let _draft = engine
        .create_run(&actor, def.id, CreateRun::default())
        .unwrap();
    let report = engine.relay_outbox().unwrap();
    assert_eq!((report.delivered, report.failed, report.dead), (1, 1, 1));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_metrics(
        engine.clone(),
        listener,
        HttpConfig::default(),
        Some(metrics),
        async {
            let _ = stopped.await;
        },
    ));
    assert!(
        get(addr, &format!("/v1/workflow-runs/{}", ids[1]), Some(&key))
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get(addr, &format!("/v1/workflow-runs/{}", ids[2]), Some(&key))
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(get(addr, "/v1/workflow-runs/not-a-uuid", Some(&key))
        .await
        .starts_with("HTTP/1.1 422"));
    let scrape = get(addr, "/metrics", None).await;
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");
    assert!(scrape.contains("text/plain"));

    let d = |outcome: &str| {
        value(
            &scrape,
            &format!(
                "workflow_deliveries_total{{adapter=\"test\",message=\"dispatch\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!((d("delivered"), d("retry"), d("dead")), (1.0, 1.0, 1.0));
    assert_eq!(
        value(
            &scrape,
            "workflow_dead_letters_total{adapter=\"test\",message=\"dispatch\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&scrape, "workflow_outbox_queued"),
        1.0,
        "the retried one waits"
    );
    let runs = |s: &str| value(&scrape, &format!("workflow_runs{{state=\"{s}\"}}"));
    assert_eq!(runs("FAILED"), 1.0, "the dead-lettered attempt failed");
    assert_eq!(runs("IN_PROGRESS"), 2.0);
    assert_eq!(runs("NOT_STARTED"), 1.0);
    assert_eq!(runs("COMPLETED"), 0.0);
    assert_eq!(
        value(
            &scrape,
            "workflow_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/workflow-runs/{run_id}\",status=\"200\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &scrape,
            "workflow_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/workflow-runs/{run_id}\",status=\"422\"}"
        ),
        1.0
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
