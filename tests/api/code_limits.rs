//! The second factor's guessing limits (docs/api.md §8.5): consecutive rejected codes
//! lock it for a while, the hundredth until a password reset; counting holds under
//! concurrency.

use serde_json::json;

use crate::authenticator::{first_step, user_with_2fa, verify, wrong_code};
use crate::helpers::*;

#[tokio::test]
async fn wrong_codes_lock_the_second_factor_and_the_hundredth_until_a_reset() {
    let app = spawn_app_with(&[
        "--two-factor-lockout-threshold",
        "3",
        "--two-factor-lockout-secs",
        "2",
    ])
    .await;
    let (token, mut auth, codes) = user_with_2fa(&app, "lock@example.com").await;
    let ticket = first_step(&app, "lock@example.com", PASSWORD).await;
    for i in 0..2 {
        let r = verify(&app, &ticket, &wrong_code(&auth), json!({})).await;
        assert_eq!(r.body["reason"], "INVALID_CODE", "{i}");
    }
    // A step-up code counts toward the same lock; the failure that starts it is a 401.
    app.sql("UPDATE sessions SET authenticated_at = 0", &[])
        .await;
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"code": "000-000"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    app.wait_notice("lock@example.com", "two-factor-locked")
        .await;

    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (423, Some("TWO_FACTOR_LOCKED")),
        "{}",
        r.text
    );
    assert!(r.header("retry-after").is_some());
    let r = app.sign_in("lock@example.com", PASSWORD).await;
    assert_eq!(r.body["reason"], "TWO_FACTOR_LOCKED");
    assert!(
        r.set_cookie("two_factor_ticket").is_none(),
        "no ticket while locked"
    );
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"code": codes[0]}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "TWO_FACTOR_LOCKED");
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        3,
        "nothing counts while locked"
    );
    // The password lockout is separate: the right password reset its count.
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM sign_in_failures")
            .await,
        0
    );

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // The count goes on after the lock: a right code resets it.
    let ticket = first_step(&app, "lock@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &wrong_code(&auth), json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        4
    );
    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        0
    );

    // The hundredth rejected code locks until a password reset.
    app.sql("UPDATE two_factor SET failures = 98", &[]).await;
    let ticket = first_step(&app, "lock@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &wrong_code(&auth), json!({})).await;
    assert_eq!(
        r.body["reason"], "INVALID_CODE",
        "99: a multiple of 3 → a short lock"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = verify(&app, &ticket, &wrong_code(&auth), json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE", "100");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = app.sign_in("lock@example.com", PASSWORD).await;
    assert_eq!(r.status, 423, "{}", r.text);
    assert_eq!(r.body["reason"], "TWO_FACTOR_LOCKED");
    assert!(r.header("retry-after").is_none());

    // A completed reset lifts it; 2FA stays on.
    app.reset_password("lock@example.com", OTHER_PASSWORD, 1)
        .await;
    let ticket = first_step(&app, "lock@example.com", OTHER_PASSWORD).await;
    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn concurrent_wrong_codes_count_exactly_to_the_lock_and_a_lock_is_not_extended() {
    let app = spawn_app_with(&[
        "--two-factor-lockout-threshold",
        "3",
        "--two-factor-lockout-secs",
        "60",
    ])
    .await;
    let (_, mut auth, _) = user_with_2fa(&app, "burst@example.com").await;
    let mut tickets = Vec::new();
    for _ in 0..8 {
        tickets.push(first_step(&app, "burst@example.com", PASSWORD).await);
    }
    let wrong = wrong_code(&auth);
    let tasks: Vec<_> = tickets
        .iter()
        .map(|t| {
            let req = app
                .client
                .post(app.url("/auth/two-factor/verify"))
                .json(&json!({"ticket": t, "code": wrong}));
            tokio::spawn(async move {
                let r = req.send().await.unwrap();
                let body: serde_json::Value = r.json().await.unwrap();
                body["reason"].as_str().unwrap_or_default().to_string()
            })
        })
        .collect();
    let mut reasons = Vec::new();
    for t in tasks {
        reasons.push(t.await.unwrap());
    }
    reasons.sort();
    assert_eq!(
        reasons,
        ["INVALID_CODE"; 3]
            .into_iter()
            .chain(["TWO_FACTOR_LOCKED"; 5])
            .collect::<Vec<_>>(),
        "the count is atomic: the third failure starts the lock, the rest are refused"
    );
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        3
    );
    let until = app
        .sql_count("SELECT locked_until AS n FROM two_factor")
        .await;
    // While locked, a right code is refused and nothing moves.
    let r = verify(&app, &tickets[0], &auth.code().await, json!({})).await;
    assert_eq!(r.body["reason"], "TWO_FACTOR_LOCKED", "{}", r.text);
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        3
    );
    assert_eq!(
        app.sql_count("SELECT locked_until AS n FROM two_factor")
            .await,
        until,
        "a refused attempt does not extend the lock"
    );
}
