//! SPEC section 13 against the real binary on 127.0.0.1: hostile clients (SEC-1, SEC-2) and
//! secrets at rest (SEC-3, SEC-4). Every test is bounded in connections and time: the server
//! runs with small timeouts given by flags, and every wait has a deadline that fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workflow_core::ApiKeyDigest;
use workflow_server::{parse_fixture, DEMO_FIXTURE};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_workflow-server"))
        .args(["--listen", "127.0.0.1:0", "--runner", "none"])
        .args(args)
        .env("RUST_LOG", "error")
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
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, addr }
}

/// SIGTERM and wait: the server shuts down cleanly (closing the database).
fn stop(mut s: Server) {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(s.child.wait().unwrap().success());
}

/// One request on a fresh connection (`Connection: close`): the whole answer, as text.
fn request(addr: &str, raw: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(raw.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
}

fn get(addr: &str, path: &str, key: Option<&str>) -> String {
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    )
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"))
}

/// The soft limit on open files of this process (the server inherits it); `None` off Linux.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// SEC-1: 2,000 connections that never complete a request head (half of them sent part of
/// one, half nothing) are all closed by the server within the head timeout plus a margin, and
/// 100 well-behaved GETs made meanwhile all answer (their p50/p99 latency is printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sec_1_half_open_flood_is_closed_and_good_requests_answer() {
    const WANTED: usize = 2000;
    // Long enough that the whole flood is open before the first of it times out, even when
    // opening 2,000 connections takes seconds on a loaded machine.
    let head_timeout = Duration::from_millis(4000);
    let margin = Duration::from_secs(3);
    // Each flood connection costs one descriptor here and one in the server.
    let n = match open_file_limit() {
        Some(limit) => WANTED.min(limit.saturating_sub(300)),
        None => WANTED,
    };
    assert!(
        n >= 200,
        "the open-file limit ({:?}) leaves room for only {n} connections; raise `ulimit -n`",
        open_file_limit()
    );
    let server = start(&[
        "--memory",
        "--header-timeout-ms",
        &head_timeout.as_millis().to_string(),
        "--max-connections",
        &(n + 500).to_string(),
    ]);
    let addr = server.addr.clone();

    let flood_started = Instant::now();
    let mut flood = Vec::with_capacity(n);
    for i in 0..n {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let opened = Instant::now();
        if i % 2 == 0 {
            conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
        }
        flood.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            let closed = tokio::time::timeout(head_timeout + margin + margin, async {
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            closed.ok().map(|()| opened.elapsed())
        }));
    }

    let flood_opened = flood_started.elapsed();
    // Well-behaved clients while the flood holds its connections.
    let mut latencies = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut answer))
            .await
            .expect("a good request hung under the flood")
            .unwrap();
        latencies.push(started.elapsed());
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    }
    let held_meanwhile = flood.iter().filter(|t| !t.is_finished()).count();

    let mut lived = Vec::with_capacity(n);
    for task in flood {
        lived.push(task.await.unwrap());
    }
    let open = lived.iter().filter(|l| l.is_none()).count();
    let mut lived: Vec<Duration> = lived.into_iter().flatten().collect();
    lived.sort();
    latencies.sort();
    println!(
        "SEC-1 flood: {n} half-open connections lived min {:?}, p50 {:?}, max {:?} \
         (head timeout {head_timeout:?}); {open} still open",
        lived.first(),
        lived.get(lived.len() / 2),
        lived.last()
    );
    println!(
        "SEC-1 flood: opened in {flood_opened:?}; 100 good GETs answered while {held_meanwhile} \
         were held, latency p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies.last().unwrap()
    );
    assert_eq!(open, 0, "connections never closed by the server");
    assert!(
        held_meanwhile >= n / 2,
        "the flood was not in place during the good requests ({held_meanwhile} of {n} held)"
    );
    let longest = *lived.last().unwrap();
    assert!(
        longest <= head_timeout + margin,
        "a half-open connection lived {longest:?}"
    );
    assert!(
        lived[0] >= head_timeout - Duration::from_millis(200),
        "closed before the head timeout: {:?}",
        lived[0]
    );
    assert!(
        percentile(&latencies, 99) < Duration::from_secs(1),
        "good requests were slow under the flood: {latencies:?}"
    );
    drop(server);
}

/// SEC-1: a kept-alive connection idle after its answer is closed by the server (the head
/// timeout restarts while it waits for the next request).
#[test]
fn sec_1_idle_keep_alive_connection_is_closed() {
    let server = start(&["--memory", "--header-timeout-ms", "1000"]);
    let mut conn = std::net::TcpStream::connect(&server.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => seen.extend_from_slice(&buf[..k]),
            Err(e) => panic!("the idle connection was not closed: {e}"),
        }
    }
    let lived = started.elapsed();
    assert!(seen.starts_with(b"HTTP/1.1 200"), "{seen:?}");
    println!("SEC-1 idle keep-alive connection closed after {lived:?}");
    assert!(lived >= Duration::from_millis(800), "{lived:?}");
    assert!(lived < Duration::from_secs(5), "{lived:?}");
}

/// Send a JSON body of `len` bytes to `PATCH /v1/workflow-runs/{id}` at one byte per second;
/// returns what the server answered and when it closed the connection.
fn trickle(addr: &str, len: usize, give_up: Duration) -> (String, Duration) {
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "PATCH /v1/workflow-runs/00000000-0000-4000-8000-000000000001 HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer sk-nobody\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut writer = conn.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..len {
            std::thread::sleep(Duration::from_secs(1));
            if writer.write_all(b" ").is_err() {
                break;
            }
        }
    });
    conn.set_read_timeout(Some(give_up)).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => answer.extend_from_slice(&buf[..k]),
            // A reset after the answer also closes it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the trickling request was not cut off: {e}"),
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// SEC-1: a body sent at one byte per second is cut off at the body deadline: the request
/// fails and the connection is closed.
#[test]
fn sec_1_body_at_one_byte_per_second_is_cut_off() {
    let server = start(&["--memory", "--body-timeout-ms", "2000"]);
    let (answer, lived) = trickle(&server.addr, 600, Duration::from_secs(8));
    println!(
        "SEC-1 trickled body cut off after {lived:?}: {}",
        answer.lines().next().unwrap_or("(no answer)")
    );
    assert!(lived >= Duration::from_millis(1800), "{lived:?}");
    assert!(lived < Duration::from_secs(6), "{lived:?}");
    if !answer.is_empty() {
        assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
        assert!(json_body(&answer)["code"].is_string(), "{answer}");
    }
}

/// SEC-2: a request that runs past the request timeout answers 503 `service_unavailable` in
/// the SPEC error shape, with `Retry-After` (here: a body arriving too slowly for it).
#[test]
fn sec_2_request_timeout_answers_503_in_the_spec_shape() {
    let server = start(&[
        "--memory",
        "--body-timeout-ms",
        "20000",
        "--request-timeout-ms",
        "1500",
    ]);
    let (answer, lived) = trickle(&server.addr, 600, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(header(&answer, "retry-after"), Some("1"), "{answer}");
    let body = json_body(&answer);
    assert_eq!(body["code"], "service_unavailable", "{answer}");
    assert!(body["request_id"].is_string(), "{answer}");
    assert!(
        body["detail"].as_str().unwrap().contains("1500 ms"),
        "{answer}"
    );
    assert!(lived >= Duration::from_millis(1300), "{lived:?}");
    assert!(lived < Duration::from_secs(6), "{lived:?}");
}

/// SEC-2: past the in-flight bound a request answers 503 `service_unavailable` with
/// `Retry-After` at once instead of queueing; when the slot frees, requests answer again.
#[test]
fn sec_2_past_the_in_flight_bound_requests_get_503() {
    let server = start(&[
        "--memory",
        "--max-in-flight",
        "1",
        "--body-timeout-ms",
        "3000",
    ]);
    let addr = server.addr.clone();
    // One request holds the only slot while its body trickles in.
    let holder = std::thread::spawn(move || trickle(&addr, 600, Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let answer = get(&server.addr, "/healthz", None);
    assert!(started.elapsed() < Duration::from_secs(1), "it queued");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(header(&answer, "retry-after"), Some("1"), "{answer}");
    assert_eq!(json_body(&answer)["code"], "service_unavailable");
    let _ = holder.join().unwrap();
    assert!(get(&server.addr, "/healthz", None).starts_with("HTTP/1.1 200"));
}

/// SEC-2: past the connection bound, new connections get `503` with `Retry-After` in the SPEC
/// error shape and are closed, not left hanging; once connections close, new ones are served.
#[test]
fn sec_2_past_the_connection_bound_clients_get_503_not_a_hang() {
    const BOUND: usize = 8;
    let server = start(&[
        "--memory",
        "--max-connections",
        &BOUND.to_string(),
        "--header-timeout-ms",
        "20000",
    ]);
    // BOUND connections that say nothing hold every slot (until the head timeout).
    let idle: Vec<std::net::TcpStream> = (0..BOUND)
        .map(|_| std::net::TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..20 {
        let started = Instant::now();
        let answer = get(&server.addr, "/healthz", None);
        assert!(started.elapsed() < Duration::from_secs(3), "it hung");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert_eq!(header(&answer, "retry-after"), Some("1"), "{answer}");
        let body = json_body(&answer);
        assert_eq!(body["code"], "service_unavailable", "{answer}");
        assert!(body["request_id"].is_string(), "{answer}");
    }
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let answer = get(&server.addr, "/healthz", None);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed: {answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The keys of the demo tenant and of `extra`'s users.
fn keys_of(fixtures: &[&str]) -> Vec<String> {
    fixtures
        .iter()
        .flat_map(|f| parse_fixture(f).unwrap().users)
        .filter_map(|u| u.api_key)
        .collect()
}

/// A fixture with a second tenant and a user whose key appears nowhere else.
const EXTRA_FIXTURE: &str = r#"{
  "tenants": [{"id": "7c1f3b52-0000-4000-8000-000000000001", "name": "globex"}],
  "users": [{
    "id": "7c1f3b52-0000-4000-8000-000000000002",
    "tenant_id": "7c1f3b52-0000-4000-8000-000000000001",
    "role": "OWNER", "first_name": "Hank", "last_name": "S",
    "api_key": "sk-fixture-hank-3f9a1c0d5e"
  }]
}"#;

fn database_files(db: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut path = db.as_os_str().to_owned();
            path.push(suffix);
            let bytes = std::fs::read(&path).ok()?;
            Some((path.to_string_lossy().into_owned(), bytes))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// SEC-3: after `--demo` and `--fixture` are loaded into a SQLite file, the keys work, and the
/// bytes of the database, its WAL and its shared-memory file contain none of them (while the
/// server runs, and after it stopped); their SHA-256 digests are what is there.
#[test]
fn sec_3_database_files_hold_no_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let fx = dir.path().join("extra.json");
    std::fs::write(&fx, EXTRA_FIXTURE).unwrap();
    let keys = keys_of(&[DEMO_FIXTURE, EXTRA_FIXTURE]);
    assert!(keys.len() >= 4, "{keys:?}");
    let server = start(&[
        "--db",
        db.to_str().unwrap(),
        "--demo",
        "--fixture",
        fx.to_str().unwrap(),
    ]);
    for key in &keys {
        let answer = get(&server.addr, "/v1/workflow-runs", Some(key));
        assert!(
            !answer.starts_with("HTTP/1.1 401"),
            "{key} refused: {answer}"
        );
    }
    assert!(get(&server.addr, "/v1/workflow-runs", Some("sk-wrong")).starts_with("HTTP/1.1 401"));
    let check = |when: &str| {
        let files = database_files(&db);
        assert!(!files.is_empty());
        let all: Vec<u8> = files.iter().flat_map(|(_, b)| b.clone()).collect();
        for (name, bytes) in &files {
            for key in &keys {
                assert!(
                    !contains(bytes, key.as_bytes()),
                    "{when}: {name} holds the key {key} in clear"
                );
            }
        }
        // The scan reads the right bytes: the digests are there.
        for key in &keys {
            assert!(
                contains(&all, ApiKeyDigest::of(key).as_bytes()),
                "{when}: no digest of {key}"
            );
        }
    };
    check("while serving");
    stop(server);
    check("after shutdown");
}

/// SEC-4: the files the server creates for data and secrets (the database, its WAL and
/// shared-memory files, the callback-token secret) are readable by their owner only (0600),
/// whatever the umask lets through (the test's umask is typically 022).
#[cfg(unix)]
#[test]
fn sec_4_created_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let server = start(&["--db", db.to_str().unwrap(), "--demo"]);
    // A write, so the WAL holds frames.
    assert!(get(&server.addr, "/healthz", None).starts_with("HTTP/1.1 200"));
    let mut checked = 0;
    for suffix in ["", "-wal", "-shm", ".token-secret"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{path:?} has mode {:o}", mode & 0o777);
        checked += 1;
    }
    assert_eq!(checked, 4);
    stop(server);
}
