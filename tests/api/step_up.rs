//! Step-up (docs/api.md §7) through REST and GraphQL: freshness, the proofs, their
//! counting, and a route's own checks before the proof.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

/// A latch whose sessions go stale after one second.
async fn stale_soon() -> TestApp {
    spawn_app_with(&["--fresh-auth-secs", "1", "--lockout-threshold", "3"]).await
}

async fn wait_stale() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn a_stale_session_needs_a_proof_and_a_fresh_one_does_not() {
    let app = stale_soon().await;
    let token = app.verified_user("stale@example.com").await;
    // Fresh right after verify-email: a step-up route runs without a proof.
    let r = app
        .post(
            "/auth/change-email",
            json!({"newEmail": "fresh-new@example.com"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    wait_stale().await;
    for (path, body) in [
        (
            "/auth/change-email",
            json!({"newEmail": "other@example.com"}),
        ),
        ("/auth/delete-user", json!({})),
    ] {
        let r = app.post(path, body, Some(&token)).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert_eq!(r.body["reason"], "REAUTHENTICATION_REQUIRED", "{path}");
    }
    // Nothing changed: the account is there, no link went to the other address.
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
    app.settle_and_count("other@example.com", 0).await;

    // GraphQL answers the same code.
    let r = app
        .gql(
            "mutation { deleteUser { success } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r.gql_ext()["reason"], "REAUTHENTICATION_REQUIRED");
    assert_eq!(r.gql_ext()["status"], 403);

    // A right password proof lets the route run.
    let r = app
        .post(
            "/auth/change-email",
            json!({"newEmail": "other@example.com", "password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.wait_link("other@example.com", "confirm-email-change", 1)
        .await;
}

#[tokio::test]
async fn reauthenticate_checks_the_proof_and_makes_the_session_fresh() {
    let app = stale_soon().await;
    let token = app.verified_user("reauth@example.com").await;
    wait_stale().await;
    let before = app.get("/auth/session", Some(&token)).await;
    let authenticated_at = before.body["session"]["authenticatedAt"].clone();

    // No proof: 400.
    let r = app
        .post("/auth/reauthenticate", json!({}), Some(&token))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["code"], "BAD_REQUEST");
    // No session: 401.
    let r = app
        .post("/auth/reauthenticate", json!({"password": PASSWORD}), None)
        .await;
    assert_eq!(r.status, 401);
    // A code on an account without two-factor: INVALID_CODE, counted nowhere.
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"code": "123456"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["reason"], "INVALID_CODE");

    // The right password: fresh until now + LATCH_FRESH_AUTH_SECS.
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], true);
    let fresh_until = r.body["freshUntil"].as_str().unwrap().to_string();
    let after = app.get("/auth/session", Some(&token)).await;
    assert_ne!(after.body["session"]["authenticatedAt"], authenticated_at);
    assert!(fresh_until.as_str() > after.body["session"]["authenticatedAt"].as_str().unwrap());
    // Now fresh: delete-user runs without a proof.
    let r = app.post("/auth/delete-user", json!({}), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
}

#[tokio::test]
async fn a_wrong_password_proof_counts_toward_the_lockout() {
    let app = stale_soon().await;
    let token = app.verified_user("proof-lock@example.com").await;
    for _ in 0..3 {
        let r = app
            .post(
                "/auth/reauthenticate",
                json!({"password": "not the password"}),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["reason"], "INVALID_CREDENTIALS");
    }
    // The threshold (3) is reached: the email is locked, for sign-in and for proofs,
    // even a fresh session's proof (a proof sent is always checked).
    let r = app.sign_in("proof-lock@example.com", PASSWORD).await;
    assert_eq!(r.status, 423, "{}", r.text);
    let r = app
        .post(
            "/auth/delete-user",
            json!({"password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 423, "{}", r.text);
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);

    // Through GraphQL, the wrong proof is the same error.
    let other = app.verified_user("proof-gql@example.com").await;
    let r = app
        .gql(
            "mutation($p: String) { reauthenticate(input: {password: $p}) { status freshUntil } }",
            json!({"p": "wrong wrong wrong"}),
            Some(&other),
        )
        .await;
    assert_eq!(r.gql_ext()["code"], "UNAUTHORIZED");
    assert_eq!(r.gql_ext()["reason"], "INVALID_CREDENTIALS");
    let r = app
        .gql(
            "mutation($p: String) { reauthenticate(input: {password: $p}) { status freshUntil } }",
            json!({"p": PASSWORD}),
            Some(&other),
        )
        .await;
    assert_eq!(
        r.body["data"]["reauthenticate"]["status"], true,
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_step_up_route_checks_its_own_conditions_before_the_proof() {
    let app = stale_soon().await;
    let token = app.verified_user("order@example.com").await;
    wait_stale().await;
    // set-password on an account with a password: 409 before the missing proof's 403.
    let r = app
        .post(
            "/auth/set-password",
            json!({"newPassword": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["reason"], "PASSWORD_ALREADY_SET");
    // change-email to the current address: 422 before the proof, and a wrong proof
    // sent with it is not spent (not counted).
    for _ in 0..4 {
        let r = app
            .post(
                "/auth/change-email",
                json!({"newEmail": "order@example.com", "password": "wrong"}),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.body["fields"]["newEmail"].is_array());
    }
    assert_eq!(app.sign_in("order@example.com", PASSWORD).await.status, 200);
    // An invalid address: 422 under newEmail.
    let r = app
        .post(
            "/auth/change-email",
            json!({"newEmail": "nope"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["fields"]["newEmail"].is_array());
}

#[tokio::test]
async fn set_password_needs_a_step_up_on_a_stale_session() {
    let app = stale_soon().await;
    let token = app.verified_user("setpw@example.com").await;
    // Make it an account without a password, as a social sign-up is.
    let uid = app.user_id(&token).await;
    app.sql(
        "UPDATE users SET password_hash = NULL WHERE id = $1",
        &[&uid],
    )
    .await;
    wait_stale().await;
    let r = app
        .post(
            "/auth/set-password",
            json!({"newPassword": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["reason"], "REAUTHENTICATION_REQUIRED");
    // Any password on an account without one is a wrong proof.
    let r = app
        .post(
            "/auth/set-password",
            json!({"newPassword": OTHER_PASSWORD, "password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.body["reason"], "INVALID_CREDENTIALS");
    // A session that proved a factor within the window (as a new social sign-in's
    // has) sets it without a proof.
    app.sql(
        &format!(
            "UPDATE sessions SET authenticated_at = {} WHERE user_id = $1",
            now_ms()
        ),
        &[&uid],
    )
    .await;
    let r = app
        .post(
            "/auth/set-password",
            json!({"newPassword": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.wait_notice("setpw@example.com", "password-changed")
        .await;
    assert_eq!(
        app.sign_in("setpw@example.com", OTHER_PASSWORD)
            .await
            .status,
        200
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn every_proof_sent_must_be_right_and_none_is_a_bad_request() {
    let app = stale_soon().await;
    let token = app.verified_user("both@example.com").await;
    // A right password with a code (no two-factor): the code fails the request.
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"password": PASSWORD, "code": "000000"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["reason"], "INVALID_CODE");
    // GraphQL without an input: no proof, 400.
    let g = app
        .gql(
            "mutation { reauthenticate { status } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "BAD_REQUEST", "{}", g.text);
    assert_eq!(g.gql_ext()["status"], 400);
    // A wrong proof on a fresh session is still checked, and nothing is deleted.
    let r = app
        .post(
            "/auth/delete-user",
            json!({"password": "not it at all"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
    // A foreign callbackURL is refused before the proof is looked at.
    wait_stale().await;
    let r = app
        .post(
            "/auth/change-email",
            json!({"newEmail": "x@example.com", "callbackURL": "https://evil.example/"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["reason"], "INVALID_REDIRECT");
}

#[tokio::test]
async fn the_new_credential_operations_draw_from_the_shared_quota() {
    let app = spawn_app_with(&["--rate-limit-per-sec", "1", "--rate-limit-burst", "5"]).await;
    let token = app.verified_user("quota@example.com").await;
    // Spend what is left of the burst.
    for _ in 0..10 {
        let r = app
            .post(
                "/auth/forget-password",
                json!({"email": "quota@example.com"}),
                None,
            )
            .await;
        if r.status == 429 {
            break;
        }
    }
    for (path, body) in [
        ("/auth/reauthenticate", json!({"password": PASSWORD})),
        ("/auth/change-email", json!({"newEmail": "q2@example.com"})),
        ("/auth/delete-user", json!({})),
    ] {
        let r = app.post(path, body, Some(&token)).await;
        assert_eq!(r.status, 429, "{path}: {}", r.text);
    }
    let r = app.get("/auth/confirm-email-change?token=x", None).await;
    assert_eq!(r.status, 429);
    let g = app
        .gql(
            "mutation { deleteUser { success } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "RATE_LIMITED");
    // Session management is not a credential operation.
    assert_eq!(
        app.get("/auth/list-sessions", Some(&token)).await.status,
        200
    );
}
