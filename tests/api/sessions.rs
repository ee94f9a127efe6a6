//! Sign-in, sessions, me, logout, lockout, through REST and GraphQL.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::snap;

const SIGN_IN: &str = "mutation($input: SignInEmailInput!) { signInEmail(input: $input) { token user { email } session { id userId expiresAt createdAt ipAddress userAgent } } }";
const ME: &str = "{ me { user { id email name emailVerified } workspaces { id name slug role } activeWorkspaceId } }";
const SESSION: &str = "{ session { session { id userId expiresAt } user { email } } }";

#[tokio::test]
async fn sign_in_sets_the_cookie_and_the_token_works_as_bearer() {
    let app = spawn_app().await;
    app.verified_user("ada@example.com").await;
    let r = app.sign_in("ADA@example.com ", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    snap!("rest_sign_in", r.body);
    let cookie = r.session_cookie().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age=604"), "{cookie}");
    assert!(!cookie.contains("Secure"), "http public URL: {cookie}");
    assert_eq!(r.body["token"], r.token());
    assert_eq!(r.body["session"]["ipAddress"], "127.0.0.1");
    assert_eq!(r.body["session"]["userAgent"], "latch-tests");

    let s = app.get_bearer("/auth/session", &r.token()).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["session"]["id"], r.body["session"]["id"]);
    snap!("rest_session", s.body);
    let me = app.get("/auth/me", Some(&r.token())).await;
    assert_eq!(me.status, 200);
    snap!("rest_me", me.body);
    assert_eq!(me.body["activeWorkspaceId"], me.body["workspaces"][0]["id"]);
    assert!(me.header("cache-control").unwrap().contains("no-store"));
}

#[tokio::test]
async fn graphql_sign_in_sets_the_cookie_and_queries_match_rest() {
    let app = spawn_app().await;
    app.verified_user("grace@example.com").await;
    let input = json!({"email": "grace@example.com", "password": PASSWORD});
    let r = app.gql(SIGN_IN, json!({"input": input}), None).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let token = r.token();
    assert_eq!(r.body["data"]["signInEmail"]["token"], token.as_str());

    let me = app.gql(ME, json!({}), Some(&token)).await;
    assert!(me.body["errors"].is_null(), "{}", me.text);
    snap!("graphql_me", me.body);
    let rest_me = app.get("/auth/me", Some(&token)).await;
    assert_eq!(
        me.body["data"]["me"]["activeWorkspaceId"],
        rest_me.body["activeWorkspaceId"]
    );
    assert_eq!(
        me.body["data"]["me"]["workspaces"][0]["slug"],
        rest_me.body["workspaces"][0]["slug"]
    );

    let s = app.gql(SESSION, json!({}), Some(&token)).await;
    assert_eq!(
        s.body["data"]["session"]["session"]["id"],
        r.body["data"]["signInEmail"]["session"]["id"]
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_give_the_same_401() {
    let app = spawn_app().await;
    app.verified_user("known@example.com").await;
    let wrong = app.sign_in("known@example.com", OTHER_PASSWORD).await;
    let unknown = app.sign_in("unknown@example.com", OTHER_PASSWORD).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["reason"], "INVALID_CREDENTIALS");
    snap!("rest_invalid_credentials", wrong.body);
    let g = app
        .gql(
            SIGN_IN,
            json!({"input": {"email": "unknown@example.com", "password": "x"}}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "UNAUTHORIZED");
    assert_eq!(g.gql_ext()["reason"], "INVALID_CREDENTIALS");
    assert_eq!(g.gql_ext()["status"], 401);
    assert!(g.session_cookie().is_none());
}

#[tokio::test]
async fn remember_me_false_gives_a_browser_session_cookie_of_at_most_a_day() {
    let app = spawn_app().await;
    app.verified_user("short@example.com").await;
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "short@example.com", "password": PASSWORD, "rememberMe": false}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let cookie = r.session_cookie().unwrap();
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    let created =
        chrono::DateTime::parse_from_rfc3339(r.body["session"]["createdAt"].as_str().unwrap())
            .unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(r.body["session"]["expiresAt"].as_str().unwrap())
            .unwrap();
    assert!(expires - created <= chrono::Duration::days(1));
}

#[tokio::test]
async fn no_session_is_401_through_both_doors() {
    let app = spawn_app().await;
    for path in [
        "/auth/session",
        "/auth/me",
        "/auth/linked-accounts",
        "/auth/two-factor/status",
    ] {
        let r = app.get(path, None).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.body["code"], "UNAUTHORIZED");
        assert!(r.body["reason"].is_null());
        let r = app.get(path, Some("not-a-real-token")).await;
        assert_eq!(r.status, 401, "{path}");
    }
    let unauthorized = app.get("/auth/me", None).await;
    snap!("rest_unauthorized", unauthorized.body);
    for q in [
        ME,
        SESSION,
        "{ linkedAccounts { provider } }",
        "{ twoFactorStatus { enabled } }",
    ] {
        let r = app.gql(q, json!({}), None).await;
        assert_eq!(r.gql_ext()["code"], "UNAUTHORIZED", "{q}");
        assert_eq!(r.gql_ext()["status"], 401);
    }
}

#[tokio::test]
async fn api_keys_are_refused_on_these_routes() {
    let app = spawn_app().await;
    let r = app.get_bearer("/auth/me", "ak_live_123").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["reason"], "API_KEY_NOT_ALLOWED");
    let r = app.get("/auth/session", Some("ak_live_123")).await;
    assert_eq!(r.body["reason"], "API_KEY_NOT_ALLOWED");
    let g = app.gql(ME, json!({}), Some("ak_test")).await;
    assert_eq!(g.gql_ext()["reason"], "API_KEY_NOT_ALLOWED");
}

#[tokio::test]
async fn logout_deletes_the_session_and_clears_the_cookie_idempotently() {
    let app = spawn_app().await;
    let token = app.verified_user("out@example.com").await;
    let other = app.sign_in("out@example.com", PASSWORD).await.token();

    // REST: an empty body with no content type is fine.
    let r = app.post_raw("/auth/logout", None, Vec::new()).await;
    assert_eq!(r.status, 200);
    let mut req = app.client.post(app.url("/auth/sign-out"));
    req = req.header("cookie", format!("session_token={token}"));
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cleared: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    // The session and a pending second step go; a trusted device stays trusted.
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(cleared[0].starts_with("session_token=;"), "{cleared:?}");
    assert!(cleared[1].starts_with("two_factor_ticket=;"), "{cleared:?}");
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"success": true})
    );
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 401);
    // Again: still 200.
    assert_eq!(
        app.post("/auth/logout", json!({}), Some(&token))
            .await
            .status,
        200
    );

    // GraphQL logout.
    let g = app
        .gql("mutation { logout }", json!({}), Some(&other))
        .await;
    assert_eq!(g.body["data"]["logout"], true);
    assert!(g.session_cookie().unwrap().contains("Max-Age=0"));
    assert_eq!(app.get("/auth/me", Some(&other)).await.status, 401);
}

#[tokio::test]
async fn sessions_slide_but_never_past_the_absolute_lifetime() {
    let app = spawn_app_with(&[
        "--session-ttl-secs",
        "100",
        "--session-refresh-secs",
        "0",
        "--session-max-age-secs",
        "150",
    ])
    .await;
    app.verified_user("slide@example.com").await;
    let r = app.sign_in("slide@example.com", PASSWORD).await;
    let first = r.body["session"]["expiresAt"].as_str().unwrap().to_string();
    assert!(r.session_cookie().unwrap().contains("Max-Age=100"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let s = app.get("/auth/session", Some(&r.token())).await;
    let second = s.body["session"]["expiresAt"].as_str().unwrap().to_string();
    assert!(second > first, "{first} -> {second}");
    assert!(s.session_cookie().is_some(), "extended cookie re-issued");
    let created =
        chrono::DateTime::parse_from_rfc3339(s.body["session"]["createdAt"].as_str().unwrap())
            .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(&second).unwrap();
    assert!(expires - created <= chrono::Duration::seconds(150));
}

#[tokio::test]
async fn an_expired_session_is_401() {
    let app = spawn_app_with(&["--session-ttl-secs", "1", "--session-max-age-secs", "1"]).await;
    app.verified_user("exp@example.com").await;
    let t = app.sign_in("exp@example.com", PASSWORD).await.token();
    assert_eq!(app.get("/auth/session", Some(&t)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(app.get("/auth/session", Some(&t)).await.status, 401);
}

#[tokio::test]
async fn lockout_after_the_threshold_even_for_the_right_password() {
    let app = spawn_app_with(&["--lockout-threshold", "3"]).await;
    app.verified_user("lock@example.com").await;
    for i in 0..3 {
        let r = app.sign_in("lock@example.com", OTHER_PASSWORD).await;
        assert_eq!(
            r.status, 401,
            "failure {i} (the threshold one included) is 401"
        );
    }
    let r = app.sign_in("lock@example.com", PASSWORD).await;
    assert_eq!(r.status, 423);
    assert_eq!(r.body["code"], "ACCOUNT_LOCKED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    snap!("rest_account_locked", r.body);
    let g = app
        .gql(
            SIGN_IN,
            json!({"input": {"email": "lock@example.com", "password": PASSWORD}}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "ACCOUNT_LOCKED");
    assert_eq!(g.gql_ext()["status"], 423);

    // Unknown emails are counted too.
    for _ in 0..3 {
        assert_eq!(app.sign_in("ghost@example.com", "x").await.status, 401);
    }
    assert_eq!(app.sign_in("ghost@example.com", "x").await.status, 423);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = spawn_app_with(&["--lockout-threshold", "3"]).await;
    app.verified_user("reset@example.com").await;
    // Two rounds of threshold-minus-one failures, a success between them.
    for _ in 0..2 {
        for _ in 0..2 {
            let r = app.sign_in("reset@example.com", OTHER_PASSWORD).await;
            assert_eq!(r.status, 401);
        }
        assert_eq!(app.sign_in("reset@example.com", PASSWORD).await.status, 200);
    }
}

#[tokio::test]
async fn concurrent_failures_never_slip_past_the_threshold() {
    let app = spawn_app_with(&["--lockout-threshold", "5"]).await;
    app.verified_user("storm@example.com").await;
    let statuses = app
        .concurrent(20, || {
            app.client
                .post(app.url("/auth/sign-in/email"))
                .json(&json!({"email": "storm@example.com", "password": OTHER_PASSWORD}))
        })
        .await;
    assert!(
        statuses.iter().all(|&s| s == 401 || s == 423),
        "{statuses:?}"
    );
    let unauthorized = statuses.iter().filter(|&&s| s == 401).count();
    assert!(unauthorized <= 5, "{unauthorized} failures answered 401");
    assert_eq!(app.sign_in("storm@example.com", PASSWORD).await.status, 423);
}
