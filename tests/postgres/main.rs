//! PostgreSQL only: the notification listener of the session cache (README "Running
//! in production"). Built with `--features postgres-tests` and run by the PostgreSQL
//! pass of `.ci/run`, with `TEST_DATABASE_URL` naming the server; without it, it fails.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::{Duration, Instant};

use helpers::{PASSWORD, TestApp, spawn_app, spawn_beside};
use serde_json::json;

fn postgres(app: &TestApp) {
    assert!(
        app.db_url.starts_with("postgres"),
        "this suite needs TEST_DATABASE_URL naming a PostgreSQL server"
    );
}

/// Waits until the app's listener is up again.
async fn listening(app: &TestApp) {
    let since = Instant::now();
    while !app.state.store().session_cache_state().is_some_and(|s| s.1) {
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "the listener did not come back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_killed_listener_serves_no_stale_answer_and_caching_resumes() {
    let a = spawn_app().await;
    let b = spawn_beside(&a, &[]).await;
    postgres(&a);
    a.verified_user("killed@example.com").await;
    for round in 0..5 {
        let t = a.sign_in("killed@example.com", PASSWORD).await.token();
        for _ in 0..3 {
            assert_eq!(b.get("/auth/session", Some(&t)).await.status, 200);
        }
        assert!(b.state.store().session_cache_state().unwrap().0 >= 1);
        // Every listening connection of this database, as an operator would end them.
        let killed = a
            .sql_count(
                "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .await;
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
