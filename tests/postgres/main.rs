//! PostgreSQL only: the notification listener of the session cache (README "Running
//! in production"). Each test starts a PostgreSQL server of its own (scripts/pg-start,
//! which installs PostgreSQL when it is missing and it may): no test here depends on
//! `TEST_DATABASE_URL`, so both passes of `.ci/run` run them, on one build.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::{Duration, Instant};

use helpers::{PASSWORD, TestApp, spawn_app_on};
use serde_json::json;

/// Two instances of one deployment (one database, one secret key) on a server of the
/// test's own; the server goes with the first element.
async fn two_instances() -> (OwnServer, TestApp, TestApp) {
    let server = OwnServer::start();
    let a = spawn_app_on(&server.url(), server.dir.path()).await;
    let b = spawn_app_on(&server.url(), server.dir.path()).await;
    (server, a, b)
}

/// Waits (5 s at most) until `app`'s session cache state (remembered answers,
/// listening) satisfies `done`.
async fn until(app: &TestApp, what: &str, done: impl Fn((usize, bool)) -> bool) {
    let since = Instant::now();
    while !app.state.store().session_cache_state().is_some_and(&done) {
        assert!(since.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the app's listener is up again.
async fn listening(app: &TestApp) {
    until(app, "the listener did not come back", |s| s.1).await;
}

/// Ends every listening connection of `app`'s database, as an operator would; how many.
async fn kill_listeners(app: &TestApp) -> i64 {
    app.sql_count(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await
}

#[tokio::test]
async fn a_killed_listener_serves_no_stale_answer_and_caching_resumes() {
    let (_server, a, b) = two_instances().await;
    a.verified_user("killed@example.com").await;
    for round in 0..5 {
        let t = a.sign_in("killed@example.com", PASSWORD).await.token();
        for _ in 0..3 {
            assert_eq!(b.get("/auth/session", Some(&t)).await.status, 200);
        }
        assert!(b.state.store().session_cache_state().unwrap().0 >= 1);
        let killed = kill_listeners(&a).await;
        assert!(killed >= 2, "round {round}: {killed} listeners");
        let r = a.post("/auth/sign-out", json!({}), Some(&t)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = b.get("/auth/session", Some(&t)).await;
        assert_eq!(
            r.status, 401,
            "round {round}: a stale answer after the kill"
        );
        // The listener comes back and answers are remembered again.
        listening(&b).await;
        let t = a.sign_in("killed@example.com", PASSWORD).await.token();
        for _ in 0..3 {
            assert_eq!(b.get("/auth/session", Some(&t)).await.status, 200);
        }
        let (remembered, up) = b.state.store().session_cache_state().unwrap();
        assert!(up && remembered >= 1, "round {round}: caching resumed");
    }
}

/// A PostgreSQL server of this test's own (scripts/pg-start), stopped when dropped;
/// its folder also holds the instances' secret key.
struct OwnServer {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnServer {
    fn start() -> OwnServer {
        let dir = tempfile::Builder::new()
            .prefix("latch-pg-")
            .tempdir()
            .unwrap();
        // The server runs as the postgres user when the tests run as root.
        std::process::Command::new("chmod")
            .args(["755", &dir.path().display().to_string()])
            .status()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::process::Command::new("scripts/pg-start")
            .args([
                &port.to_string(),
                &dir.path().join("pg").display().to_string(),
            ])
            .output()
            .expect("scripts/pg-start runs");
        assert!(out.status.success(), "{out:?}");
        OwnServer { dir, port }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg(&self, action: &str) {
        let out = std::process::Command::new("scripts/pg-ctl")
            .args([
                action,
                &self.dir.path().join("pg").display().to_string(),
                &self.port.to_string(),
            ])
            .output()
            .expect("scripts/pg-ctl runs");
        assert!(out.status.success(), "{action}: {out:?}");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("scripts/pg-stop")
            .arg(self.dir.path().join("pg"))
            .output();
    }
}

#[tokio::test]
async fn a_restart_under_load_serves_no_stale_answer_and_no_error_once_back() {
    let (server, a, b) = two_instances().await;
    a.verified_user("restart@example.com").await;
    let t = a.sign_in("restart@example.com", PASSWORD).await.token();
    for _ in 0..3 {
        assert_eq!(b.get("/auth/session", Some(&t)).await.status, 200);
    }
    // Load on b while the server goes down and comes back.
    let load = {
        let (client, url, t) = (b.client.clone(), b.url("/auth/session"), t.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let end = Instant::now() + Duration::from_secs(6);
            while Instant::now() < end {
                let s = client
                    .get(&url)
                    .header("cookie", format!("session_token={t}"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                statuses.push((Instant::now(), s));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.pg("stop");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    server.pg("start");
    let back = Instant::now();
    // Once both listen again, a logout on a is seen by b's next check.
    listening(&a).await;
    listening(&b).await;
    let r = a.post("/auth/sign-out", json!({}), Some(&t)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = Instant::now();
    assert_eq!(
        b.get("/auth/session", Some(&t)).await.status,
        401,
        "a stale answer"
    );
    let statuses = load.await.unwrap();
    // While the server was down, no check was answered 200 from memory (the listener
    // dropped) beyond the moment it went; after it was back, no 5xx.
    let after: Vec<u16> = statuses
        .iter()
        .filter(|(at, _)| *at > back + Duration::from_secs(1))
        .map(|(_, s)| *s)
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|s| *s < 500),
        "errors once back: {after:?}"
    );
    assert!(
        statuses
            .iter()
            .filter(|(at, _)| *at > out)
            .all(|(_, s)| *s == 401),
        "a stale 200 after the logout"
    );
}

#[tokio::test]
async fn a_slow_instance_is_waited_for_before_a_logout_answers() {
    let (_server, a, b) = two_instances().await;
    a.verified_user("slow@example.com").await;
    // Heartbeats have gone round: a knows b.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Slow, yet keeping up with the channel (heartbeats, markers, acknowledgements).
    b.state.store().dawdle_over_notifications(40);
    for round in 0..5 {
        let t = a.sign_in("slow@example.com", PASSWORD).await.token();
        for _ in 0..3 {
            assert_eq!(b.get("/auth/session", Some(&t)).await.status, 200);
        }
        let r = a.post("/auth/sign-out", json!({}), Some(&t)).await;
        assert_eq!(r.status, 200);
        // The logout waited for b's acknowledgement, so b forgot the session first.
        assert_eq!(
            b.get("/auth/session", Some(&t)).await.status,
            401,
            "round {round}: b answered from memory"
        );
    }
}

/// Checks `token` on `app` until it answers from memory: the one answer remembered.
async fn remembered(app: &TestApp, token: &str) {
    for _ in 0..3 {
        assert_eq!(app.get("/auth/session", Some(token)).await.status, 200);
    }
    assert_eq!(app.state.store().session_cache_state().unwrap().0, 1);
}

/// Waits until `app` remembers no answer (nothing here checks a session meanwhile, so
/// only a notification or a dropped listener can empty it).
async fn forgotten(app: &TestApp, what: &str) {
    until(app, &format!("{what}: still remembered"), |s| s.0 == 0).await;
}

#[tokio::test]
async fn psql_changes_and_a_killed_listener_empty_the_cache() {
    let (_server, a, b) = two_instances().await;
    let t = a.verified_user("notice@example.com").await;
    listening(&b).await;
    remembered(&b, &t).await;
    // A session deleted outside latch: the trigger's notification drops it (the
    // one-second bound alone would leave the entry in place until the next check).
    a.sql("DELETE FROM sessions", &[]).await;
    forgotten(&b, "a psql deletion").await;
    assert_eq!(b.get("/auth/session", Some(&t)).await.status, 401);

    let t = a.sign_in("notice@example.com", PASSWORD).await.token();
    remembered(&b, &t).await;
    // An update that changes nothing names nobody; one that changes the user does.
    a.sql("UPDATE users SET name = name", &[]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.state.store().session_cache_state().unwrap().0, 1);
    a.sql("UPDATE users SET name = name || '.'", &[]).await;
    forgotten(&b, "a changed user").await;
    // TRUNCATE has no rows to name: it drops everything.
    remembered(&b, &t).await;
    a.sql("TRUNCATE sessions CASCADE", &[]).await;
    forgotten(&b, "a truncate").await;
    assert_eq!(b.get("/auth/session", Some(&t)).await.status, 401);

    let t = a.sign_in("notice@example.com", PASSWORD).await.token();
    remembered(&b, &t).await;
    kill_listeners(&a).await;
    forgotten(&b, "a killed listener").await;
}

#[tokio::test]
async fn the_purge_of_ended_sessions_names_nobody() {
    let (_server, a, b) = two_instances().await;
    let t = a.verified_user("purge@example.com").await;
    listening(&b).await;
    // More ended sessions than one statement names one by one.
    a.sql(
        "INSERT INTO sessions SELECT (jsonb_populate_record(NULL::sessions, to_jsonb(s) \
         || jsonb_build_object('id', 'ended' || g, 'token_hash', 'ended' || g, \
         'expires_at', 1))).* FROM sessions s, generate_series(1, 150) g",
        &[],
    )
    .await;
    remembered(&b, &t).await;
    let removed = a.state.store().purge_expired(3600).await.unwrap();
    assert!(removed >= 150, "{removed} purged");
    // The same statement by anyone else would make every instance forget everything.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.state.store().session_cache_state().unwrap().0, 1);
    a.sql("DELETE FROM sessions", &[]).await;
    forgotten(&b, "a psql deletion").await;
}
