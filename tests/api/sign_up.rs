//! Sign-up, verification links and resend, through REST and GraphQL.

use serde_json::json;

use crate::helpers::*;
use crate::snap;

const SIGN_UP: &str = "mutation($input: SignUpEmailInput!) { signUpEmail(input: $input) { verificationSent user { id email name emailVerified image createdAt updatedAt } } }";
const VERIFY: &str = "mutation($token: String!) { verifyEmail(input: {token: $token}) { user { email emailVerified name } session { id userId expiresAt } } }";

#[tokio::test]
async fn sign_up_creates_an_unverified_user_and_mails_a_link() {
    let app = spawn_app().await;
    let r = app.sign_up("  Ada@Example.COM ", PASSWORD, " Ada ").await;
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    assert_eq!(r.body["user"]["name"], "Ada");
    assert_eq!(r.body["user"]["emailVerified"], false);
    assert!(
        r.session_cookie().is_none(),
        "no session before verification"
    );
    snap!("rest_sign_up", r.body);

    let link = app.wait_link("ada@example.com", "verify-email", 1).await;
    assert!(link.starts_with(&app.addr), "{link}");
    let mails = app.emails_to("ada@example.com");
    assert!(
        mails[0].1.contains(&link),
        "text part carries the full link"
    );
    assert!(mails[0].2.contains("<a href="), "html part");
}

#[tokio::test]
async fn graphql_sign_up_matches_rest() {
    let app = spawn_app().await;
    let input = json!({"email": "grace@example.com", "password": PASSWORD, "name": "Grace"});
    let r = app.gql(SIGN_UP, json!({"input": input}), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["errors"].is_null(), "{}", r.text);
    snap!("graphql_sign_up", r.body);
    let link = app.wait_link("grace@example.com", "verify-email", 1).await;
    let token = query_param(&link, "token").unwrap();

    let r = app.gql(VERIFY, json!({"token": token}), None).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    assert_eq!(r.body["data"]["verifyEmail"]["user"]["emailVerified"], true);
    let cookie = r.session_cookie().expect("verifyEmail sets the cookie");
    let me = app.get("/auth/me", Some(&r.token())).await;
    assert_eq!(me.status, 200, "{cookie}");
    assert_eq!(me.body["workspaces"][0]["role"], "owner");

    // Used once: the same token again is INVALID_TOKEN through both doors.
    let again = app.gql(VERIFY, json!({"token": token}), None).await;
    assert_eq!(again.gql_ext()["code"], "INVALID_TOKEN");
    assert_eq!(again.gql_ext()["status"], 400);
    let rest = app.get(&path_of(&link), None).await;
    assert_eq!(rest.status, 400);
    assert_eq!(rest.body["code"], "INVALID_TOKEN");
}

#[tokio::test]
async fn a_verified_email_is_a_409_through_both_doors() {
    let app = spawn_app().await;
    app.verified_user("taken@example.com").await;
    let body = json!({"email": "TAKEN@example.com", "password": OTHER_PASSWORD, "name": "X"});
    let r = app.post("/auth/sign-up/email", body.clone(), None).await;
    assert_eq!(r.status, 409);
    snap!("rest_user_exists", r.body);
    let g = app.gql(SIGN_UP, json!({"input": body}), None).await;
    assert_eq!(g.gql_ext()["code"], "USER_EXISTS");
    assert_eq!(g.gql_ext()["status"], 409);
    // Nothing else was mailed (1 verification email only).
    app.settle_and_count("taken@example.com", 1).await;
}

#[tokio::test]
async fn invalid_fields_are_422_with_every_field_listed() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": "not-an-email", "password": "x", "name": "  "}),
            None,
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["code"], "VALIDATION_ERROR");
    assert!(r.body["fields"]["email"].is_array());
    assert!(r.body["fields"]["name"].is_array());
    snap!("rest_sign_up_invalid", r.body);

    let long_email = format!("{}@example.com", "a".repeat(250));
    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": long_email, "password": PASSWORD, "name": "A"}),
            None,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["fields"]["email"][0]
            .as_str()
            .unwrap()
            .contains("254")
    );

    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": "a@example.com", "password": PASSWORD, "name": "n".repeat(201)}),
            None,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["fields"]["name"].is_array());
}

#[tokio::test]
async fn each_weak_password_rule_is_reported_under_the_password_field() {
    let app = spawn_app_with(&["--password-min-classes", "3"]).await;
    let cases = [
        ("Sh0rt!", "at least 12"),
        ("password1234", "too easy to guess"),
        ("xx-lovelace-horse-battery-Q1", "before the @"),
        ("correct horse battery staple", "Mix at least 3"),
        (&*"Zq9!vLm2#xR7".repeat(11), "at most 128"),
    ];
    for (pw, expected) in cases {
        let body = json!({"email": "lovelace@example.com", "password": pw, "name": "Ada"});
        let r = app.post("/auth/sign-up/email", body.clone(), None).await;
        assert_eq!(r.status, 422, "{pw}: {}", r.text);
        let msgs = r.body["fields"]["password"].to_string();
        assert!(
            msgs.contains(expected),
            "{pw}: expected {expected:?} in {msgs}"
        );
        let g = app.gql(SIGN_UP, json!({"input": body}), None).await;
        assert_eq!(g.gql_ext()["code"], "VALIDATION_ERROR");
        assert_eq!(g.gql_ext()["status"], 422);
        assert!(
            g.gql_ext()["fields"]["password"]
                .to_string()
                .contains(expected)
        );
    }
    app.settle_and_count("lovelace@example.com", 0).await;
}

#[tokio::test]
async fn verify_email_with_callback_redirects_and_rejects_foreign_targets() {
    let app = spawn_app().await;
    let email = "cb@example.com";
    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": email, "password": PASSWORD, "name": "Cb", "callbackURL": "/welcome"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let link = app.wait_link(email, "verify-email", 1).await;
    assert_eq!(
        query_param(&link, "callbackURL").as_deref(),
        Some(format!("{}/welcome", app.addr).as_str())
    );
    let token = query_param(&link, "token").unwrap();

    // A foreign callbackURL is 403 and consumes nothing.
    let foreign = app
        .get(
            &format!("/auth/verify-email?token={token}&callbackURL=https://evil.test/"),
            None,
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.body["reason"], "INVALID_REDIRECT");

    let ok = app.get(&path_of(&link), None).await;
    assert_eq!(ok.status, 302);
    assert_eq!(
        ok.header("location"),
        Some(format!("{}/welcome", app.addr).as_str())
    );
    assert!(ok.session_cookie().is_some());

    // A used token with a valid callback goes back to the app with the error.
    let used = app.get(&path_of(&link), None).await;
    assert_eq!(used.status, 302);
    assert_eq!(
        used.header("location"),
        Some(format!("{}/welcome?error=INVALID_TOKEN", app.addr).as_str())
    );

    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": "x@example.com", "password": PASSWORD, "name": "X", "callbackURL": "https://evil.test/"}),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["reason"], "INVALID_REDIRECT");
}

#[tokio::test]
async fn malformed_verification_tokens_are_invalid_token() {
    let app = spawn_app().await;
    let long = "a".repeat(513);
    for t in ["", "nope", long.as_str()] {
        let r = app
            .get(&format!("/auth/verify-email?token={t}"), None)
            .await;
        assert_eq!(r.status, 400, "{t}");
        assert_eq!(r.body["code"], "INVALID_TOKEN");
    }
    let r = app.get("/auth/verify-email", None).await;
    assert_eq!(r.body["code"], "INVALID_TOKEN");
}

#[tokio::test]
async fn resend_sends_for_unverified_accounts_once_a_minute() {
    let app = spawn_app().await;
    let email = "resend@example.com";
    app.sign_up(email, PASSWORD, "Re").await;
    app.wait_link(email, "verify-email", 1).await;

    // Within the minute after the sign-up email: same answer, nothing sent.
    let r = app
        .post("/auth/resend-verification", json!({"email": email}), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"status": true}));
    let g = app
        .gql(
            "mutation { resendVerification(input: {email: \"resend@example.com\"}) { status } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(g.body["data"]["resendVerification"]["status"], true);
    app.settle_and_count(email, 1).await;

    // Unknown and verified accounts: the same answer, nothing sent.
    app.verified_user("done@example.com").await;
    for e in ["nobody@example.com", "done@example.com"] {
        let r = app
            .post("/auth/resend-verification", json!({"email": e}), None)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, json!({"status": true}));
    }
    app.settle_and_count("nobody@example.com", 0).await;
    app.settle_and_count("done@example.com", 1).await;
}

#[tokio::test]
async fn resend_binds_the_newest_sign_up_password() {
    let app = spawn_app().await;
    let email = "newest@example.com";
    app.sign_up(email, PASSWORD, "Old").await;
    app.wait_link(email, "verify-email", 1).await;
    // Age the sign-up email past the cooldown.
    app.sql("UPDATE email_log SET sent_at = sent_at - 120000", &[])
        .await;
    let r = app
        .post("/auth/resend-verification", json!({"email": email}), None)
        .await;
    assert_eq!(r.status, 200);
    let link = app.wait_link(email, "verify-email", 2).await;
    let v = app.get(&path_of(&link), None).await;
    assert_eq!(v.status, 200);
    assert_eq!(v.body["user"]["name"], "Old");
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn no_account_receives_more_than_ten_emails_an_hour() {
    let app = spawn_app().await;
    let email = "cap@example.com";
    for _ in 0..12 {
        app.sign_up(email, PASSWORD, "Cap").await;
    }
    app.wait_link(email, "verify-email", 10).await;
    app.settle_and_count(email, 10).await;
    // A reset request past the cap answers as usual and sends nothing.
    let r = app
        .post("/auth/forget-password", json!({"email": email}), None)
        .await;
    assert_eq!(r.status, 200);
    app.settle_and_count(email, 10).await;
}

#[tokio::test]
async fn concurrent_sign_ups_leave_one_account() {
    let app = spawn_app().await;
    let email = "race@example.com";
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/auth/sign-up/email");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD, "name": "R"}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let body = t.await.unwrap();
        ids.insert(body["user"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "one account: {ids:?}");
}

#[tokio::test]
async fn expired_verification_links_are_invalid() {
    let app = spawn_app().await;
    let email = "late@example.com";
    app.sign_up(email, PASSWORD, "Late").await;
    let link = app.wait_link(email, "verify-email", 1).await;
    app.sql("UPDATE one_time_tokens SET expires_at = 1", &[])
        .await;
    let r = app.get(&path_of(&link), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "INVALID_TOKEN");
    // An expired link's password is no longer "outstanding": the usual 401.
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 401);
}

#[tokio::test]
async fn concurrent_uses_of_one_verification_link_succeed_once() {
    let app = spawn_app().await;
    let email = "vrace@example.com";
    app.sign_up(email, PASSWORD, "V").await;
    let link = app.wait_link(email, "verify-email", 1).await;
    let statuses = app.concurrent(10, || app.client.get(&link)).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 400),
        "{statuses:?}"
    );
    let token = app.sign_in(email, PASSWORD).await.token();
    let me = app.get("/auth/me", Some(&token)).await;
    assert_eq!(me.body["workspaces"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_requests_never_exceed_the_hourly_email_cap() {
    let app = spawn_app().await;
    let email = "burst@example.com";
    app.sign_up(email, PASSWORD, "Burst").await;
    app.wait_link(email, "verify-email", 1).await;
    let statuses = app
        .concurrent(20, || {
            app.client
                .post(app.url("/auth/forget-password"))
                .json(&json!({"email": email}))
        })
        .await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    app.wait_link(email, "reset-password", 9).await;
    app.settle_and_count(email, 10).await;
}
