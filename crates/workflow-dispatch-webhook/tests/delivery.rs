//! HOOK-1, HOOK-2, DISP-4, DISP-5 of the webhook dispatcher against a tiny scripted HTTP
//! receiver on 127.0.0.1 (one thread per connection, so a hanging answer holds up nothing but
//! itself).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use workflow_core::{Cancel, Dispatch, DispatchError, Dispatcher};
use workflow_dispatch_webhook::*;
use workflow_runner::{CancelPayload, DispatchPayload, PayloadBuilder, TokenKeys};

/// What the receiver does with one request.
#[derive(Clone, Debug)]
enum Answer {
    /// This status, with these extra headers.
    Status(u16, Vec<(&'static str, String)>),
    /// Read the request, answer nothing for this long, then 200.
    Hang(Duration),
}

/// A received request.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    fn signed(&self) -> SignedHeaders<'_> {
        SignedHeaders {
            id: self.header("webhook-id"),
            timestamp: self.header("webhook-timestamp"),
            signature: self.header("webhook-signature"),
        }
    }
}

/// Answers requests with the scripted answers in order (200 once they run out) and records them.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start(script: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/runs", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let recorded = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (recorded, script) = (recorded.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &recorded, &script));
            }
        });
        Receiver { url, seen }
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>, script: &Mutex<VecDeque<Answer>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let method = line.split(' ').next().unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    seen.lock().unwrap().push(Request {
        method,
        headers,
        body,
    });
    let answer = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Status(200, vec![]));
    let (status, extra) = match answer {
        Answer::Status(status, extra) => (status, extra),
        Answer::Hang(how_long) => {
            std::thread::sleep(how_long);
            (200, vec![])
        }
    };
    let mut out = format!("HTTP/1.1 {status} Scripted\r\nconnection: close\r\n");
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = format!("scripted answer {status}");
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    // The client may have given up (a hang): nothing to do about a broken pipe.
    let _ = (&stream).write_all(out.as_bytes());
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn secret() -> WebhookSecret {
    WebhookSecret::parse(SECRET).unwrap()
}

fn dispatcher(url: &str, timeout: Duration) -> WebhookDispatcher {
    let payloads = PayloadBuilder::new(
        "http://127.0.0.1:8000",
        TokenKeys::new(vec![7; 32], None).unwrap(),
        chrono::Duration::seconds(60),
    );
    let config = WebhookConfig {
        timeout,
        connect_timeout: Duration::from_millis(500),
        ..WebhookConfig::new(url)
    };
    WebhookDispatcher::new(config, vec![secret()], payloads).unwrap()
}

fn dispatch() -> Dispatch {
    let now = chrono::Utc::now();
    serde_json::from_value(serde_json::json!({
        "key": {"run_id": uuid::Uuid::new_v4(), "attempt": 2},
        "tenant_id": uuid::Uuid::from_u128(1),
        "definition_id": uuid::Uuid::from_u128(3),
        "triggered_by": uuid::Uuid::from_u128(4),
        "run_thread_id": null,
        "snapshot": {
            "workflow_name": "summarise", "max_run_duration_seconds": 600,
            "approval_required": false,
            "instruction": {"path_part_id": null, "materialized_path": "", "source": null},
            "inputs": [], "excluded_common_files": [], "user_message": "hello",
            "selected_skill_ids": [], "created_at": now,
        },
        "deadline_at": now + chrono::Duration::seconds(600),
    }))
    .unwrap()
}

fn verified(r: &Request) -> Result<(), VerifyError> {
    secret().verify(&r.signed(), &r.body, SystemTime::now(), DEFAULT_TOLERANCE)
}

/// HOOK-1, HOOK-2: a dispatch is one signed POST of the DISP-1 payload with the message id as
/// `webhook-id`; the receiver verifies it; a cancel is `{"type": "cancel", …}`, signed alike.
#[test]
fn hook_1_dispatch_and_cancel_are_signed_posts_of_the_payloads() {
    let receiver = Receiver::start(vec![]);
    let hooks = dispatcher(&receiver.url, Duration::from_secs(5));
    let d = dispatch();
    hooks.dispatch(&d).unwrap();
    let cancel = Cancel {
        key: d.key,
        tenant_id: d.tenant_id,
        reason: "Stopped by user".into(),
    };
    hooks.cancel(&cancel).unwrap();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let (first, second) = (&requests[0], &requests[1]);
    assert_eq!(first.method, "POST");
    assert_eq!(first.header("content-type"), "application/json");
    assert_eq!(first.header("webhook-id"), d.message_id().to_string());
    assert_eq!(verified(first), Ok(()));
    let payload: DispatchPayload = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(payload.schema, "workflow-run-dispatch/1");
    assert_eq!(payload.kind, "dispatch");
    assert_eq!((payload.run_id, payload.attempt), (d.key.run_id, 2));
    assert_eq!(
        payload.callback_url,
        format!(
            "http://127.0.0.1:8000/v1/workflow-runs/{}/callback",
            d.key.run_id
        )
    );
    assert!(payload.callback_token.starts_with("wrt1."));

    assert_eq!(second.header("webhook-id"), cancel.message_id().to_string());
    assert_ne!(second.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(verified(second), Ok(()));
    let payload: CancelPayload = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(
        (payload.kind.as_str(), payload.reason.as_str()),
        ("cancel", "Stopped by user")
    );
    // The signature covers the exact bytes sent: one changed byte and it no longer verifies.
    let mut tampered = first.clone();
    tampered.body[10] ^= 1;
    assert_eq!(verified(&tampered), Err(VerifyError::NoMatchingSignature));
}

/// HOOK-1, DISP-2: redeliveries of one message (503, 503, then 200) carry the same
/// `webhook-id`, each freshly timestamped and signed; the first two are retryable failures.
#[test]
fn hook_1_redeliveries_carry_the_same_webhook_id() {
    let receiver = Receiver::start(vec![
        Answer::Status(503, vec![]),
        Answer::Status(503, vec![]),
    ]);
    let hooks = dispatcher(&receiver.url, Duration::from_secs(5));
    let d = dispatch();
    for _ in 0..2 {
        let e = hooks.dispatch(&d).unwrap_err();
        assert!(e.retryable, "{e}");
        assert!(e.message.contains("503"), "{e}");
    }
    hooks.dispatch(&d).unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.header("webhook-id"), d.message_id().to_string());
        assert_eq!(verified(r), Ok(()));
    }
}

fn answer_to(answer: Answer) -> (Result<(), DispatchError>, usize) {
    let receiver = Receiver::start(vec![answer]);
    let result = dispatcher(&receiver.url, Duration::from_secs(5)).dispatch(&dispatch());
    (result, receiver.requests().len())
}

/// HOOK-1, DISP-5: 410 and other 4xx but 408/429 are permanent, with the status in the error.
#[test]
fn hook_1_gone_and_other_4xx_are_permanent() {
    let (gone, _) = answer_to(Answer::Status(410, vec![]));
    let gone = gone.unwrap_err();
    assert!(!gone.retryable);
    assert_eq!(
        gone.message,
        "webhook answered HTTP 410 Gone: scripted answer 410"
    );
    for status in [400, 401, 403, 404, 422] {
        let (e, _) = answer_to(Answer::Status(status, vec![]));
        assert!(!e.unwrap_err().retryable, "{status}");
    }
}

/// HOOK-1, DISP-4: 408, 429, 5xx and redirects (not followed) are retried; `Retry-After` is
/// passed to the relay in seconds or as an HTTP-date.
#[test]
fn hook_1_408_429_5xx_and_redirects_are_retried_with_retry_after() {
    for status in [408, 429, 500, 502, 503, 504] {
        let (e, _) = answer_to(Answer::Status(status, vec![]));
        let e = e.unwrap_err();
        assert!(e.retryable, "{status}");
        assert_eq!(e.retry_after, None);
    }
    let (e, _) = answer_to(Answer::Status(503, vec![("Retry-After", "7".into())]));
    assert_eq!(e.unwrap_err().retry_after, Some(Duration::from_secs(7)));
    let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    let (e, _) = answer_to(Answer::Status(429, vec![("retry-after", soon)]));
    let wait = e.unwrap_err().retry_after.unwrap();
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
    let (e, requests) = answer_to(Answer::Status(
        302,
        vec![("location", "http://127.0.0.1:1/".into())],
    ));
    assert!(e.unwrap_err().retryable);
    assert_eq!(requests, 1, "the redirect is not followed");
}

/// HOOK-1, DISP-4: a refused connection is retried.
#[test]
fn hook_1_refused_connection_is_retried() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = dispatcher(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(5))
        .dispatch(&dispatch())
        .unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(e.message.starts_with("webhook not delivered"), "{e}");
}

/// HOOK-1, DISP-6: a receiver that hangs is cut off by the overall timeout (a retryable
/// failure), and meanwhile another delivery through the same dispatcher goes through.
#[test]
fn hook_1_a_hanging_receiver_is_cut_off_by_the_timeout() {
    let receiver = Receiver::start(vec![Answer::Hang(Duration::from_secs(5))]);
    let hooks = Arc::new(dispatcher(&receiver.url, Duration::from_millis(600)));
    let hanging = {
        let hooks = hooks.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            (hooks.dispatch(&dispatch()), started.elapsed())
        })
    };
    // Wait until the hanging request is in, then deliver another one beside it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while receiver.requests().is_empty() {
        assert!(Instant::now() < deadline, "no request arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    hooks.dispatch(&dispatch()).unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    let (result, took) = hanging.join().unwrap();
    let e = result.unwrap_err();
    assert!(e.retryable, "{e}");
    assert!(e.message.contains("timeout"), "{e}");
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_secs(2),
        "cut off after {took:?}"
    );
}

/// The configuration is checked at construction: http URLs with a host, at least one secret.
#[test]
fn bad_configurations_are_refused_at_construction() {
    let payloads = || {
        PayloadBuilder::new(
            "http://127.0.0.1:8000",
            TokenKeys::random().unwrap(),
            chrono::Duration::seconds(60),
        )
    };
    for url in [
        "https://example.com/hook",
        "ftp://x/",
        "not a url",
        "/relative",
        "",
    ] {
        let e = WebhookDispatcher::new(WebhookConfig::new(url), vec![secret()], payloads());
        assert!(matches!(e, Err(ConfigError::Url { .. })), "{url}: {e:?}");
    }
    let e = WebhookDispatcher::new(
        WebhookConfig::new("http://127.0.0.1:9/"),
        vec![],
        payloads(),
    );
    assert_eq!(e.unwrap_err(), ConfigError::NoSecret);
}
