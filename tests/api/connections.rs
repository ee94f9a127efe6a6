//! Slow and hostile connections (contract §1 connection limits, §2 "Slow clients"),
//! against the real binary on loopback with short limits. Every wait is bounded and
//! every test opens a bounded number of connections.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{PASSWORD, link_in, path_of, read_outbox};
use crate::instances::{Instance, start_instance_limited};

fn latch(env: &[(&str, &str)], nofile: Option<u32>) -> (Instance, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // Connection tests need no shared database: a SQLite file of their own.
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("latch.db").display()
    );
    let i = start_instance_limited(&db, &dir.path().join("outbox"), env, nofile);
    (i, dir)
}

async fn connect(i: &Instance) -> TcpStream {
    TcpStream::connect(i.addr.trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Reads until the peer closes the connection (or `limit` passes): what it sent, and
/// whether it closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + limit;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

/// Sends one complete keep-alive request and reads its whole answer.
async fn roundtrip(s: &mut TcpStream, path: &str) -> String {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: latch\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_answer(s).await
}

/// Reads one whole answer (head and `Content-Length` body).
async fn read_answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text.into();
            }
        }
    }
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn heads_that_stall_are_closed_and_normal_clients_are_served_throughout() {
    let (i, _dir) = latch(&[("LATCH_HEADER_TIMEOUT_SECS", "1")], None);
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut s = connect(&i).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: latch\r\n")
            .await
            .unwrap();
        stalled.push(s);
    }
    // A normal client is served while they hang.
    let ok = i
        .client
        .get(format!("{}/healthz", i.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for s in &mut stalled {
        let (sent, closed) = read_until_closed(s, Duration::from_secs(5)).await;
        assert!(closed, "a stalled head is closed");
        assert_eq!(sent, "", "closed without an answer");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "not before the head timeout: {took:?}"
    );
    let ok = i
        .client
        .get(format!("{}/healthz", i.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let m = i.metrics().await;
    assert!(
        metric(
            &m,
            "latch_connections_closed_total{reason=\"header_timeout\"} "
        ) >= 50.0,
        "{m}"
    );
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_the_connection_closes() {
    let (i, _dir) = latch(&[("LATCH_REQUEST_TIMEOUT_SECS", "1")], None);
    let mut s = connect(&i).await;
    s.write_all(
        b"POST /auth/sign-in/email HTTP/1.1\r\nHost: latch\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let (sent, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("\"code\":\"REQUEST_TIMEOUT\""), "{sent}");
    assert!(
        sent.to_ascii_lowercase().contains("connection: close"),
        "{sent}"
    );
    assert!(closed, "the connection closes after the 408");
    // Nothing was counted as a sign-in attempt.
    let m = i.metrics().await;
    assert_eq!(
        metric(&m, "latch_password_verifications_total "),
        0.0,
        "{m}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_after_the_idle_timeout() {
    let (i, _dir) = latch(
        &[
            ("LATCH_HEADER_TIMEOUT_SECS", "1"),
            ("LATCH_IDLE_TIMEOUT_SECS", "3"),
        ],
        None,
    );
    let mut s = connect(&i).await;
    assert!(
        roundtrip(&mut s, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // Idle longer than the head timeout but within the idle timeout: still open.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(
        roundtrip(&mut s, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let idle_from = Instant::now();
    let (sent, closed) = read_until_closed(&mut s, Duration::from_secs(8)).await;
    assert!(closed && sent.is_empty(), "{sent}");
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_millis(2800), "closed after {idle:?}");
    let m = i.metrics().await;
    assert!(
        metric(
            &m,
            "latch_connections_closed_total{reason=\"idle_timeout\"} "
        ) >= 1.0,
        "{m}"
    );
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_until_one_closes() {
    let (i, _dir) = latch(&[("LATCH_MAX_CONNECTIONS", "2")], None);
    let mut a = connect(&i).await;
    let mut b = connect(&i).await;
    assert!(
        roundtrip(&mut a, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        roundtrip(&mut b, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // A third client connects (the backlog takes it) but gets no answer yet.
    let mut c = connect(&i).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: latch\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_millis(700), c.read(&mut buf)).await;
    assert!(waited.is_err(), "no answer while two connections are open");
    // The open ones are still served, and latch holds no more than two.
    let gauge = roundtrip(&mut a, "/metrics").await;
    let body = gauge.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(metric(body, "latch_open_connections "), 2.0, "{gauge}");
    assert!(
        roundtrip(&mut a, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    drop(b);
    let sent = read_answer(&mut c).await;
    assert!(
        sent.starts_with("HTTP/1.1 200"),
        "served once one closed: {sent}"
    );
}

#[tokio::test]
async fn running_out_of_file_descriptors_is_survived() {
    // A low open-files limit: the clients below exhaust it; accept errors are logged
    // and retried, the connections latch holds are still served, and once they close
    // latch accepts again.
    let (i, _dir) = latch(&[("LATCH_DB_MAX_CONNECTIONS", "2")], Some(64));
    let mut first = connect(&i).await;
    assert!(
        roundtrip(&mut first, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut flood = Vec::new();
    for _ in 0..80 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(500),
            TcpStream::connect(i.addr.trim_start_matches("http://")),
        )
        .await
        {
            flood.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = roundtrip(&mut first, "/auth/sign-in-methods").await;
    assert!(during.starts_with("HTTP/1.1 200"), "{during}");
    drop(flood);
    drop(first);
    let mut served = false;
    for _ in 0..50 {
        if let Ok(r) = i.client.get(format!("{}/healthz", i.addr)).send().await
            && r.status() == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "latch accepts again");
    let m = i.metrics().await;
    assert!(
        metric(&m, "latch_accept_errors_total ") >= 1.0,
        "the limit was hit: {m}"
    );
    let logs = i.logs.lock().unwrap().join("\n");
    assert!(logs.contains("accepting a connection failed"), "logged");
}

#[tokio::test]
async fn when_latch_is_the_slow_side_the_answer_is_503_and_the_work_completes_whole() {
    // Hashing far slower than the request deadline: the sign-up cannot answer in time.
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("latch.db").display()
    );
    let outbox = dir.path().join("outbox");
    let i = start_instance_limited(
        &db,
        &outbox,
        &[
            ("LATCH_REQUEST_TIMEOUT_SECS", "1"),
            ("LATCH_ARGON2_MEMORY_KIB", "19456"),
            ("LATCH_ARGON2_ITERATIONS", "300"),
        ],
        None,
    );
    let r = i
        .client
        .post(format!("{}/auth/sign-up/email", i.addr))
        .json(
            &serde_json::json!({"email": "late@example.com", "password": PASSWORD, "name": "Late"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["connection"], "close");
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "UNAVAILABLE");
    // The sign-up was not cut in half: it finishes, and its link works.
    let mut link = None;
    for _ in 0..600 {
        if let Some((_, text, _)) = read_outbox(&outbox, "late@example.com").pop() {
            link = link_in(&text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = link.expect("the sign-up completed in the background");
    let v = i
        .client
        .get(format!("{}{}", i.addr, path_of(&link)))
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), 200);
}
