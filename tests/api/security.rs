//! Security controls of contract §6 and the credential-operation rate limit of §4,
//! through REST and GraphQL: Turnstile (against a stand-in verifier on loopback),
//! CORS, the Origin check, the per-IP limiter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::*;

/// A Turnstile verifier stand-in: `pass` succeeds, `slow` answers after 6 s, anything
/// else fails. It records every form it receives.
struct Verifier {
    url: String,
    calls: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl Verifier {
    fn calls(&self) -> Vec<HashMap<String, String>> {
        self.calls.lock().unwrap().clone()
    }
}

async fn start_verifier() -> Verifier {
    type Calls = Arc<Mutex<Vec<HashMap<String, String>>>>;
    async fn siteverify(
        State(calls): State<Calls>,
        Form(form): Form<HashMap<String, String>>,
    ) -> axum::Json<Value> {
        calls.lock().unwrap().push(form.clone());
        let response = form.get("response").cloned().unwrap_or_default();
        if response == "slow" {
            tokio::time::sleep(Duration::from_secs(6)).await;
        }
        axum::Json(json!({"success": response == "pass", "error-codes": []}))
    }
    let calls: Calls = Arc::default();
    let app = Router::new()
        .route("/siteverify", post(siteverify))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Verifier { url, calls }
}

async fn app_with_turnstile(verifier_url: &str, extra: &[&str]) -> TestApp {
    let mut args = vec![
        "--turnstile-secret",
        "test-secret",
        "--turnstile-verify-url",
        verifier_url,
    ];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

const SIGN_UP_GQL: &str =
    "mutation($input: SignUpEmailInput!) { signUpEmail(input: $input) { verificationSent } }";

#[tokio::test]
async fn turnstile_guards_sign_up_through_both_doors_and_nothing_happens_on_failure() {
    let verifier = start_verifier().await;
    let app = app_with_turnstile(&verifier.url, &[]).await;
    let body = json!({"email": "bot@example.com", "password": PASSWORD, "name": "Bot"});

    let missing = app.post("/auth/sign-up/email", body.clone(), None).await;
    assert_eq!(missing.status, 403);
    assert_eq!(missing.body["reason"], "BOT_CHECK_FAILED");
    assert!(verifier.calls().is_empty(), "no token: no call");

    let rejected = app
        .send(
            app.client
                .post(app.url("/auth/sign-up/email"))
                .header("x-turnstile-token", "fail")
                .json(&body),
        )
        .await;
    assert_eq!(rejected.status, 403);
    let g = app
        .gql(SIGN_UP_GQL, json!({"input": {"email": "bot@example.com", "password": PASSWORD, "name": "Bot", "turnstileToken": "fail"}}), None)
        .await;
    assert_eq!(g.gql_ext()["reason"], "BOT_CHECK_FAILED");
    assert_eq!(g.gql_ext()["status"], 403);
    app.settle_and_count("bot@example.com", 0).await;

    // The verifier got secret, response and remoteip, form-encoded.
    let calls = verifier.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["secret"], "test-secret");
    assert_eq!(calls[0]["response"], "fail");
    assert_eq!(calls[0]["remoteip"], "127.0.0.1");

    let ok = app
        .send(
            app.client
                .post(app.url("/auth/sign-up/email"))
                .header("x-turnstile-token", "pass")
                .json(&body),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let g = app
        .gql(SIGN_UP_GQL, json!({"input": {"email": "human@example.com", "password": PASSWORD, "name": "H", "turnstileToken": "pass"}}), None)
        .await;
    assert_eq!(
        g.body["data"]["signUpEmail"]["verificationSent"], true,
        "{}",
        g.text
    );
}

#[tokio::test]
async fn a_failed_bot_check_counts_no_sign_in_failure() {
    let verifier = start_verifier().await;
    let app = app_with_turnstile(
        &verifier.url,
        &["--turnstile-flows", "sign-in", "--lockout-threshold", "1"],
    )
    .await;
    app.verified_user("careful@example.com").await;
    for _ in 0..3 {
        let r = app
            .sign_in("careful@example.com", "wrong password here")
            .await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body["reason"], "BOT_CHECK_FAILED");
    }
    let r = app
        .send(
            app.client
                .post(app.url("/auth/sign-in/email"))
                .header("x-turnstile-token", "pass")
                .json(&json!({"email": "careful@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "not locked: {}", r.text);
}

#[tokio::test]
async fn forget_password_without_a_token_sends_nothing() {
    let verifier = start_verifier().await;
    let app = app_with_turnstile(&verifier.url, &["--turnstile-flows", "forget-password"]).await;
    app.verified_user("quiet@example.com").await;
    let r = app
        .post(
            "/auth/forget-password",
            json!({"email": "quiet@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    let g = app
        .gql(
            "mutation { forgetPassword(input: {email: \"quiet@example.com\", turnstileToken: \"fail\"}) { status } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["reason"], "BOT_CHECK_FAILED");
    app.settle_and_count("quiet@example.com", 1).await;
}

#[tokio::test]
async fn overlong_tokens_are_refused_without_calling_the_verifier() {
    let verifier = start_verifier().await;
    let app = app_with_turnstile(&verifier.url, &[]).await;
    let long = "p".repeat(2049);
    let r = app
        .send(
            app.client
                .post(app.url("/auth/sign-in/email"))
                .header("x-turnstile-token", long)
                .json(&json!({"email": "a@example.com", "password": "x"})),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["reason"], "BOT_CHECK_FAILED");
    assert!(verifier.calls().is_empty());
}

#[tokio::test]
async fn an_unreachable_or_slow_verifier_fails_closed() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/siteverify", l.local_addr().unwrap())
    };
    let app = app_with_turnstile(&closed, &[]).await;
    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": "x@example.com", "password": PASSWORD, "name": "X", "turnstileToken": "pass"}),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["reason"], "BOT_CHECK_FAILED");

    let verifier = start_verifier().await;
    let app = app_with_turnstile(&verifier.url, &[]).await;
    let started = std::time::Instant::now();
    let r = app
        .post(
            "/auth/sign-up/email",
            json!({"email": "y@example.com", "password": PASSWORD, "name": "Y", "turnstileToken": "slow"}),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "gave up at the 5 s timeout"
    );
}

#[tokio::test]
async fn flows_not_listed_need_no_token() {
    let verifier = start_verifier().await;
    let app = app_with_turnstile(&verifier.url, &["--turnstile-flows", "sign-in"]).await;
    app.sign_up("free@example.com", PASSWORD, "Free").await;
    assert!(verifier.calls().is_empty());
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let app = spawn_app_with(&["--allowed-origins", "http://app.test:3000"]).await;
    let pre = app
        .send(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/graphql"))
                .header("origin", "http://app.test:3000")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type, authorization, x-turnstile-token",
                ),
        )
        .await;
    assert!(pre.status.is_success(), "{}", pre.status);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("http://app.test:3000")
    );
    assert_eq!(pre.header("access-control-allow-credentials"), Some("true"));
    let methods = pre
        .header("access-control-allow-methods")
        .unwrap()
        .to_uppercase();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let headers = pre
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    for h in ["content-type", "authorization", "x-turnstile-token"] {
        assert!(headers.contains(h), "{headers}");
    }

    let get = app
        .send(
            app.client
                .get(app.url("/auth/session"))
                .header("origin", "http://app.test:3000"),
        )
        .await;
    assert_eq!(
        get.header("access-control-allow-origin"),
        Some("http://app.test:3000")
    );
    assert_eq!(get.header("access-control-allow-credentials"), Some("true"));
    assert!(
        get.header("vary")
            .unwrap()
            .to_lowercase()
            .contains("origin")
    );

    for evil in ["https://evil.test", "null", "http://app.test:3001"] {
        let r = app
            .send(
                app.client
                    .get(app.url("/auth/session"))
                    .header("origin", evil),
            )
            .await;
        assert!(r.header("access-control-allow-origin").is_none(), "{evil}");
    }
}

#[tokio::test]
async fn foreign_origins_are_refused_before_anything_else() {
    let app = spawn_app_with(&["--allowed-origins", "http://app.test:3000"]).await;
    let token = app.verified_user("origin@example.com").await;
    for evil in ["https://evil.test", "null"] {
        // Even a wrong content type or an oversized body meets the Origin check first.
        let r = app
            .send(
                app.client
                    .post(app.url("/auth/sign-in/email"))
                    .header("origin", evil)
                    .header("content-type", "text/plain")
                    .body(vec![b'x'; 100 * 1024]),
            )
            .await;
        assert_eq!(r.status, 403, "{evil}");
        assert_eq!(r.body["reason"], "INVALID_ORIGIN");
        let g = app
            .send(
                app.client
                    .post(app.url("/graphql"))
                    .header("origin", evil)
                    .json(&json!({"query": "mutation { logout }"})),
            )
            .await;
        assert_eq!(g.status, 403);
        assert_eq!(g.body["reason"], "INVALID_ORIGIN");
        let out = app
            .send(
                app.client
                    .post(app.url("/auth/sign-out"))
                    .header("origin", evil)
                    .header("cookie", format!("session_token={token}")),
            )
            .await;
        assert_eq!(out.status, 403);
    }
    let cross = app
        .send(
            app.client
                .post(app.url("/auth/logout"))
                .header("sec-fetch-site", "cross-site")
                .header("cookie", format!("session_token={token}")),
        )
        .await;
    assert_eq!(cross.status, 403);
    assert_eq!(cross.body["reason"], "INVALID_ORIGIN");
    // The session survived every refused logout.
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 200);

    // An allowed origin passes, even cross-site.
    let ok = app
        .send(
            app.client
                .post(app.url("/auth/sign-in/email"))
                .header("origin", "http://app.test:3000")
                .header("sec-fetch-site", "cross-site")
                .json(&json!({"email": "origin@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("http://app.test:3000")
    );
}

const FORGET_GQL: &str =
    "mutation { forgetPassword(input: {email: \"rl@example.com\"}) { status } }";

#[tokio::test]
async fn one_rate_limit_quota_per_ip_across_both_doors() {
    let app = spawn_app_with(&["--rate-limit-per-sec", "1", "--rate-limit-burst", "3"]).await;
    // Two over REST, one over GraphQL: the burst is spent.
    for _ in 0..2 {
        let r = app
            .post(
                "/auth/forget-password",
                json!({"email": "rl@example.com"}),
                None,
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let g = app.gql(FORGET_GQL, json!({}), None).await;
    assert_eq!(
        g.body["data"]["forgetPassword"]["status"], true,
        "{}",
        g.text
    );

    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "rl@example.com", "password": "x"}),
            None,
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["code"], "RATE_LIMITED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    let g = app.gql(FORGET_GQL, json!({}), None).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.gql_ext()["code"], "RATE_LIMITED");
    assert_eq!(g.gql_ext()["status"], 429);

    // Session checks are not credential operations.
    assert_eq!(app.get("/auth/session", None).await.status, 401);
}

#[tokio::test]
async fn each_credential_mutation_in_a_graphql_request_draws_once() {
    let app = spawn_app_with(&["--rate-limit-per-sec", "1", "--rate-limit-burst", "2"]).await;
    let q = "mutation { a: forgetPassword(input: {email: \"a@example.com\"}) { status } b: forgetPassword(input: {email: \"b@example.com\"}) { status } c: forgetPassword(input: {email: \"c@example.com\"}) { status } }";
    let g = app.gql(q, json!({}), None).await;
    assert_eq!(g.body["data"]["a"]["status"], true, "{}", g.text);
    assert_eq!(g.body["data"]["b"]["status"], true, "{}", g.text);
    let errors = g.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", g.text);
    assert_eq!(errors[0]["path"][0], "c");
    assert_eq!(errors[0]["extensions"]["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let untrusted = spawn_app_with(&["--rate-limit-per-sec", "1", "--rate-limit-burst", "2"]).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let r = untrusted
            .send(
                untrusted
                    .client
                    .post(untrusted.url("/auth/forget-password"))
                    .header("x-forwarded-for", format!("198.51.100.{i}"))
                    .json(&json!({"email": "x@example.com"})),
            )
            .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "spoofed X-Forwarded-For changes nothing"
    );

    let trusted = spawn_app_with(&[
        "--rate-limit-per-sec",
        "1",
        "--rate-limit-burst",
        "2",
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await;
    for i in 0..3 {
        let r = trusted
            .send(
                trusted
                    .client
                    .post(trusted.url("/auth/forget-password"))
                    .header("x-forwarded-for", format!("198.51.100.{i}"))
                    .json(&json!({"email": "x@example.com"})),
            )
            .await;
        assert_eq!(r.status, 200, "each forwarded client has its own quota");
    }
    let r = trusted.sign_in("x@example.com", "x").await;
    assert_eq!(r.status, 401, "the proxy itself has its own quota too");
}

#[tokio::test]
async fn turnstile_can_guard_the_start_of_a_passkey_sign_in() {
    let verifier = start_verifier().await;
    let app = app_with_turnstile(
        &verifier.url,
        &[
            "--turnstile-flows",
            "passkey-sign-in",
            "--app-url",
            crate::passkeys::ORIGIN,
        ],
    )
    .await;
    let path = "/auth/passkey/generate-authenticate-options";
    let missing = app.send(app.client.post(app.url(path))).await;
    assert_eq!(
        missing.body["reason"], "BOT_CHECK_FAILED",
        "{}",
        missing.text
    );
    let gql = json!({"query": "mutation { generatePasskeyAuthenticationOptions { ceremonyId } }"});
    let g = app
        .send(app.client.post(app.url("/graphql")).json(&gql))
        .await;
    assert_eq!(g.gql_ext()["reason"], "BOT_CHECK_FAILED");
    let ok = app
        .send(
            app.client
                .post(app.url(path))
                .header("x-turnstile-token", "pass"),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // The body's turnstileToken serves too (the route takes no other field).
    let r = app
        .post(path, json!({"turnstileToken": "fail"}), None)
        .await;
    assert_eq!(r.body["reason"], "BOT_CHECK_FAILED", "{}", r.text);
    let r = app
        .post(path, json!({"turnstileToken": "pass"}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .header("x-turnstile-token", "pass")
                .json(&gql),
        )
        .await;
    assert!(
        g.body["data"]["generatePasskeyAuthenticationOptions"]["ceremonyId"].is_string(),
        "{}",
        g.text
    );
    // Password sign-in is not guarded by this flow.
    let r = app.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(r.status, 401);
}
