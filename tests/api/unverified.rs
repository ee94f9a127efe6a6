//! Unverified accounts with one or several sign-up requests (contract §4 "Unverified
//! accounts"): a lone request's link applies its password; with several outstanding,
//! no password is applied (the mails look alike and one may be a stranger's) and the
//! person sets one from the link's session; at most five stay outstanding; before
//! verification only the newest request's password is compared.

use serde_json::json;

use crate::helpers::*;

/// The verification link mailed to `to` for the sign-up named `name` (mails are
/// written in the background, in any order).
async fn link_for(app: &TestApp, to: &str, name: &str) -> String {
    let greeting = format!("Hi {name},");
    for _ in 0..200 {
        if let Some(link) = app
            .emails_to(to)
            .iter()
            .find(|(_, text, _)| text.contains(&greeting))
            .and_then(|(_, text, _)| link_in(text))
        {
            return link;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no verification mail for {name} reached {to}");
}

#[tokio::test]
async fn a_lone_sign_up_applies_its_password() {
    let app = spawn_app().await;
    let email = "lone@example.com";
    app.sign_up(email, PASSWORD, "Lone").await;
    let link = app.wait_link(email, "verify-email", 1).await;
    let v = app.get(&path_of(&link), None).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn several_sign_ups_apply_no_password_and_the_link_session_sets_one() {
    let app = spawn_app().await;
    let email = "owner@example.com";
    // The owner signs up, then a stranger signs up with the owner's address.
    app.sign_up(email, PASSWORD, "Owner").await;
    app.sign_up(email, OTHER_PASSWORD, "Stranger").await;
    let owners = link_for(&app, email, "Owner").await;
    let strangers = link_for(&app, email, "Stranger").await;
    let mails = app.emails_to(email);
    assert_eq!(mails[0].0, mails[1].0, "the two mails look alike");

    // The owner follows the stranger's link (through GraphQL here): verified and
    // signed in, the link's name applied, but neither password.
    let token = query_param(&strangers, "token").unwrap();
    let v = app
        .gql(
            "mutation($t: String!) { verifyEmail(input: {token: $t}) { user { name emailVerified } } }",
            json!({"t": token}),
            None,
        )
        .await;
    assert_eq!(
        v.body["data"]["verifyEmail"]["user"]["emailVerified"], true,
        "{}",
        v.text
    );
    assert_eq!(v.body["data"]["verifyEmail"]["user"]["name"], "Stranger");
    let session = v.token();
    for pw in [PASSWORD, OTHER_PASSWORD] {
        let r = app.sign_in(email, pw).await;
        assert_eq!(r.status, 401, "{pw}: {}", r.text);
        assert_eq!(r.body["reason"], "INVALID_CREDENTIALS");
    }
    // Every other link is void.
    assert_eq!(
        app.get(&path_of(&owners), None).await.body["code"],
        "INVALID_TOKEN"
    );
    let linked = app.get("/auth/linked-accounts", Some(&session)).await;
    assert_eq!(
        linked.body["accounts"],
        json!([]),
        "no way to sign in but this session"
    );

    // The person sets a password from the link's session (REST here).
    let r = app
        .post(
            "/auth/set-password",
            json!({"newPassword": "a fresh lantern over quiet hills"}),
            Some(&session),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.sign_in(email, "a fresh lantern over quiet hills")
            .await
            .status,
        200
    );
    assert_eq!(app.sign_in(email, OTHER_PASSWORD).await.status, 401);
}

#[tokio::test]
async fn at_most_five_sign_up_requests_stay_outstanding() {
    let app = spawn_app().await;
    let email = "six@example.com";
    for i in 0..6 {
        app.sign_up(email, &format!("{OTHER_PASSWORD} {i}"), &format!("Try {i}"))
            .await;
    }
    let first = link_for(&app, email, "Try 0").await;
    app.wait_link(email, "verify-email", 6).await;
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM one_time_tokens WHERE purpose = 'verify-email' AND consumed_at IS NULL"
        )
        .await,
        5
    );
    // The sixth voided the oldest.
    let r = app.get(&path_of(&first), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "INVALID_TOKEN");
    let second = link_for(&app, email, "Try 1").await;
    let v = app.get(&path_of(&second), None).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.body["user"]["name"], "Try 1");
}

#[tokio::test]
async fn before_verification_only_the_newest_request_password_is_compared() {
    let app = spawn_app_with(&["--lockout-threshold", "3"]).await;
    let email = "newest-only@example.com";
    for pw in [PASSWORD, OTHER_PASSWORD] {
        app.sign_up(email, pw, "Someone").await;
    }
    // The newest request's password: not verified yet, through both doors.
    let r = app.sign_in(email, OTHER_PASSWORD).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["reason"], "EMAIL_NOT_VERIFIED");
    let g = app
        .gql(
            "mutation($e: String!, $p: String!) { signInEmail(input: {email: $e, password: $p}) { token } }",
            json!({"e": email, "p": OTHER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["reason"], "EMAIL_NOT_VERIFIED");
    // An older request's password is like any wrong password, and counts.
    for _ in 0..3 {
        let r = app.sign_in(email, PASSWORD).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["reason"], "INVALID_CREDENTIALS");
    }
    assert_eq!(app.sign_in(email, OTHER_PASSWORD).await.status, 423);
}

#[tokio::test]
async fn resend_mails_a_link_of_the_same_request() {
    let app = spawn_app().await;
    let email = "resent@example.com";
    app.sign_up(email, PASSWORD, "Resent").await;
    app.wait_link(email, "verify-email", 1).await;
    app.sql("UPDATE email_log SET sent_at = sent_at - 120000", &[])
        .await;
    let r = app
        .post("/auth/resend-verification", json!({"email": email}), None)
        .await;
    assert_eq!(r.status, 200);
    app.wait_link(email, "verify-email", 2).await;
    assert_eq!(
        app.sql_count("SELECT COUNT(DISTINCT signup_request) FROM one_time_tokens")
            .await,
        1,
        "one request, two links"
    );
    // One request: its password is applied whichever link is followed.
    let first = app.wait_link(email, "verify-email", 1).await;
    assert_eq!(app.get(&path_of(&first), None).await.status, 200);
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 200);
}
