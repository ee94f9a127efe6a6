//! Scale-out (issue: session checks from memory, revocation instant everywhere): a
//! change on one instance is seen by the very next check on the others.

use std::time::Instant;

use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app, spawn_beside};

#[tokio::test]
async fn a_logout_on_one_instance_is_seen_by_the_next_check_on_another() {
    let a = spawn_app().await;
    let b = spawn_beside(&a, &[]).await;
    a.verified_user("round@example.com").await;
    let mut stale = 0;
    let mut worst = std::time::Duration::ZERO;
    let rounds = 200;
    for _ in 0..rounds {
        let token = a.sign_in("round@example.com", PASSWORD).await.token();
        // Warm b's memory of the session.
        for _ in 0..3 {
            assert_eq!(b.get("/auth/session", Some(&token)).await.status, 200);
        }
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
