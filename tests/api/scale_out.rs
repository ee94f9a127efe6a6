//! Several instances on one database (README "Running in production"): session checks
//! answered from memory, and every change that ends a session seen by the very next
//! check on every other instance. On PostgreSQL through the notification listener and
//! the settle before a writing request answers; on SQLite through the shared write
//! generation.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::account_deletion::operator;
use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_beside};

/// Checks `token` on each app until they remember it (PostgreSQL), asserting 200.
async fn warm(apps: &[&TestApp], token: &str) {
    for app in apps {
        // A new instance remembers nothing until its listener is up.
        let since = Instant::now();
        while app
            .state
            .store()
            .session_cache_state()
            .is_some_and(|(_, up)| !up)
        {
            assert!(since.elapsed() < Duration::from_secs(5), "no listener");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for _ in 0..3 {
            assert_eq!(app.get("/auth/session", Some(token)).await.status, 200);
        }
        if let Some((remembered, listening)) = app.state.store().session_cache_state() {
            assert!(listening, "the listener is up");
            assert!(remembered >= 1, "the check is answered from memory");
        }
    }
}

/// The very next check of `token` on each app is 401.
async fn refused_at_once(apps: &[&TestApp], token: &str, what: &str) {
    for app in apps {
        let r = app.get("/auth/session", Some(token)).await;
        assert_eq!(r.status, 401, "{what}: a stale answer: {}", r.text);
    }
}

#[tokio::test]
async fn a_logout_on_one_instance_is_seen_by_the_next_check_on_another() {
    let a = spawn_app().await;
    let b = spawn_beside(&a, &[]).await;
    a.verified_user("round@example.com").await;
    let rounds = 200;
    let (mut stale, mut worst) = (0, Duration::ZERO);
    for _ in 0..rounds {
        let token = a.sign_in("round@example.com", PASSWORD).await.token();
        warm(&[&b], &token).await;
        let r = a.post("/auth/sign-out", json!({}), Some(&token)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let since = Instant::now();
        if b.get("/auth/session", Some(&token)).await.status != 401 {
            stale += 1;
            while b.get("/auth/session", Some(&token)).await.status != 401 {}
            worst = worst.max(since.elapsed());
        }
    }
    println!("stale next checks: {stale} of {rounds}; worst delay {worst:?}");
    assert_eq!(stale, 0, "worst delay {worst:?}");
}

#[tokio::test]
async fn every_change_that_ends_a_session_is_seen_at_once_on_three_instances() {
    let a = spawn_app().await;
    let b = spawn_beside(&a, &[]).await;
    let c = spawn_beside(&a, &[]).await;
    let others = [&b, &c];
    let email = "three@example.com";
    a.verified_user(email).await;
    let passwords = [PASSWORD, "another correct horse battery"];
    for round in 0..4 {
        let password = passwords[round % 2];
        let first = a.sign_in(email, password).await.token();

        let t = a.sign_in(email, password).await.token();
        warm(&others, &t).await;
        a.post("/auth/sign-out", json!({}), Some(&t)).await;
        refused_at_once(&others, &t, "sign-out").await;

        let t = a.sign_in(email, password).await.token();
        warm(&others, &t).await;
        let id = b.get("/auth/session", Some(&t)).await.body["session"]["id"].clone();
        let r = a
            .post(
                "/auth/revoke-session",
                json!({"sessionId": id}),
                Some(&first),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        refused_at_once(&others, &t, "revoke-session").await;

        let t = a.sign_in(email, password).await.token();
        warm(&others, &t).await;
        a.post("/auth/revoke-other-sessions", json!({}), Some(&first))
            .await;
        refused_at_once(&others, &t, "revoke-other-sessions").await;

        let t = a.sign_in(email, password).await.token();
        warm(&others, &t).await;
        let next = passwords[(round + 1) % 2];
        let r = a
            .post(
                "/auth/change-password",
                json!({"currentPassword": password, "newPassword": next, "revokeOtherSessions": true}),
                Some(&first),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        refused_at_once(&others, &t, "change-password").await;

        // The operator's users revoke-sessions, from another process.
        let t = a.sign_in(email, next).await.token();
        warm(&others, &t).await;
        let out = operator(&a, &["revoke-sessions", email]);
        assert!(out.status.success(), "{out:?}");
        refused_at_once(&others, &t, "users revoke-sessions").await;
    }
    // A password reset, then the account's deletion.
    let t = a.sign_in(email, PASSWORD).await.token();
    warm(&others, &t).await;
    a.reset_password(email, "a third correct horse battery", 1)
        .await;
    refused_at_once(&others, &t, "reset-password").await;
    let t = a
        .sign_in(email, "a third correct horse battery")
        .await
        .token();
    warm(&others, &t).await;
    let r = a.post("/auth/delete-user", json!({}), Some(&t)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    refused_at_once(&others, &t, "delete-user").await;
}

#[tokio::test]
async fn a_session_deleted_outside_latch_is_refused_within_a_second() {
    let a = spawn_app().await;
    let b = spawn_beside(&a, &[]).await;
    let t = a.verified_user("outside@example.com").await;
    warm(&[&a, &b], &t).await;
    a.sql("DELETE FROM sessions", &[]).await;
    let since = Instant::now();
    for app in [&a, &b] {
        while app.get("/auth/session", Some(&t)).await.status != 401 {
            assert!(since.elapsed() < Duration::from_secs(1), "still answered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
