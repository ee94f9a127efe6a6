//! Forget, reset, change and set password, through REST and GraphQL.

use serde_json::json;

use crate::helpers::*;
use crate::snap;

const RESET: &str =
    "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { status } }";
const CHANGE: &str =
    "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { status } }";

#[tokio::test]
async fn reset_through_the_emailed_link_and_the_built_in_page() {
    let app = spawn_app_with(&["--lockout-threshold", "2"]).await;
    let email = "reset@example.com";
    let session = app.verified_user(email).await;
    // Lock the account: the reset lifts it.
    for _ in 0..2 {
        app.sign_in(email, "wrong wrong wrong").await;
    }
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 423);

    let r = app
        .post("/auth/forget-password", json!({"email": email}), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"status": true}));
    let link = app.wait_link(email, "reset-password", 1).await;
    assert!(
        link.starts_with(&format!("{}/reset-password?token=", app.addr)),
        "{link}"
    );

    let page = app.get(&path_of(&link), None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("/auth/reset-password"));
    assert!(page.text.contains("newPassword"));

    let token = query_param(&link, "token").unwrap();
    let r = app
        .post(
            "/auth/reset-password",
            json!({"token": token, "newPassword": OTHER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"status": true}));
    assert_eq!(
        app.get("/auth/me", Some(&session)).await.status,
        401,
        "sessions revoked"
    );
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 401);
    let signed = app.sign_in(email, OTHER_PASSWORD).await;
    assert_eq!(signed.status, 200, "lock lifted: {}", signed.text);
    // The workspace was created once only.
    let me = app.get("/auth/me", Some(&signed.token())).await;
    assert_eq!(me.body["workspaces"].as_array().unwrap().len(), 1);

    // Single use.
    let again = app
        .post(
            "/auth/reset-password",
            json!({"token": token, "newPassword": "a brand new passphrase 77"}),
            None,
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["code"], "INVALID_TOKEN");
    snap!("rest_invalid_token", again.body);
}

#[tokio::test]
async fn graphql_reset_and_a_newer_link_voids_the_older() {
    let app = spawn_app().await;
    let email = "gql-reset@example.com";
    app.verified_user(email).await;
    let mut tokens = Vec::new();
    for n in 1..=2 {
        let g = app
            .gql(
                "mutation($e: String!) { forgetPassword(input: {email: $e}) { status } }",
                json!({"e": email}),
                None,
            )
            .await;
        assert_eq!(
            g.body["data"]["forgetPassword"]["status"], true,
            "{}",
            g.text
        );
        let link = app.wait_link(email, "reset-password", n).await;
        tokens.push(query_param(&link, "token").unwrap());
    }
    let (old, new) = (tokens[0].clone(), tokens[1].clone());
    let r = app
        .gql(
            RESET,
            json!({"input": {"token": old, "newPassword": OTHER_PASSWORD}}),
            None,
        )
        .await;
    assert_eq!(r.gql_ext()["code"], "INVALID_TOKEN");
    let r = app
        .gql(
            RESET,
            json!({"input": {"token": new, "newPassword": "x"}}),
            None,
        )
        .await;
    assert_eq!(r.gql_ext()["code"], "VALIDATION_ERROR");
    assert!(
        r.gql_ext()["fields"]["newPassword"].is_array(),
        "{}",
        r.text
    );
    // The weak attempt consumed nothing.
    let r = app
        .gql(
            RESET,
            json!({"input": {"token": new, "newPassword": OTHER_PASSWORD}}),
            None,
        )
        .await;
    assert_eq!(
        r.body["data"]["resetPassword"]["status"], true,
        "{}",
        r.text
    );
    assert_eq!(app.sign_in(email, OTHER_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn forget_password_answers_the_same_for_unknown_emails() {
    let app = spawn_app().await;
    app.verified_user("exists@example.com").await;
    let known = app
        .post(
            "/auth/forget-password",
            json!({"email": "exists@example.com"}),
            None,
        )
        .await;
    let unknown = app
        .post(
            "/auth/forget-password",
            json!({"email": "ghost@example.com"}),
            None,
        )
        .await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body, unknown.body);
    app.wait_link("exists@example.com", "reset-password", 1)
        .await;
    app.settle_and_count("ghost@example.com", 0).await;
}

#[tokio::test]
async fn forget_password_uses_an_allowed_redirect_and_refuses_others() {
    let app = spawn_app_with(&["--allowed-origins", "http://app.test:3000"]).await;
    let email = "redir@example.com";
    app.verified_user(email).await;
    let r = app
        .post(
            "/auth/forget-password",
            json!({"email": email, "redirectTo": "http://app.test:3000/new-password"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let link = app.wait_link(email, "new-password", 1).await;
    assert!(
        link.starts_with("http://app.test:3000/new-password?token="),
        "{link}"
    );
    for bad in [
        "https://evil.test/x",
        "//evil.test",
        "http://app.test:3000@evil.test/",
    ] {
        let r = app
            .post(
                "/auth/forget-password",
                json!({"email": email, "redirectTo": bad}),
                None,
            )
            .await;
        assert_eq!(r.status, 403, "{bad}");
        assert_eq!(r.body["reason"], "INVALID_REDIRECT");
    }
    let g = app
        .gql(
            "mutation { forgetPassword(input: {email: \"redir@example.com\", redirectTo: \"https://evil.test\"}) { status } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["reason"], "INVALID_REDIRECT");
    assert_eq!(g.gql_ext()["status"], 403);
    app.settle_and_count(email, 2).await;
}

#[tokio::test]
async fn a_token_already_in_redirect_to_is_replaced_never_repeated() {
    // An attacker puts their own reset token into the victim's link: the mailed link
    // must carry the victim's token only, through either door.
    let app = spawn_app().await;
    let victim = "two-tokens@example.com";
    app.verified_user(victim).await;
    let r = app
        .post(
            "/auth/forget-password",
            json!({"email": victim, "redirectTo": "/reset-password?token=ATTACKER&lang=en"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = app
        .gql(
            "mutation($e: String!) { forgetPassword(input: {email: $e, redirectTo: \"/reset-password?token=ATTACKER\"}) { status } }",
            json!({"e": victim}),
            None,
        )
        .await;
    assert_eq!(
        g.body["data"]["forgetPassword"]["status"], true,
        "{}",
        g.text
    );
    app.wait_link(victim, "reset-password", 2).await;
    // The two mails are written in the background, in either order.
    let links: Vec<String> = app
        .emails_to(victim)
        .iter()
        .filter_map(|(_, text, _)| link_in(text))
        .filter(|l| l.contains("reset-password"))
        .collect();
    assert_eq!(links.len(), 2);
    for link in &links {
        let tokens: Vec<String> = url::Url::parse(link)
            .unwrap()
            .query_pairs()
            .filter(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(tokens.len(), 1, "{link}");
        assert_ne!(tokens[0], "ATTACKER", "{link}");
    }
    assert!(
        links.iter().any(|l| l.contains("lang=en")),
        "other parameters stay: {links:?}"
    );
}

#[tokio::test]
async fn expired_and_overlong_reset_tokens_are_invalid() {
    let app = spawn_app().await;
    let email = "exp@example.com";
    app.verified_user(email).await;
    app.post("/auth/forget-password", json!({"email": email}), None)
        .await;
    let token = query_param(&app.wait_link(email, "reset-password", 1).await, "token").unwrap();
    app.sql(
        "UPDATE one_time_tokens SET expires_at = 0 WHERE purpose = 'reset-password'",
        &[],
    )
    .await;
    for t in [token, "x".repeat(600)] {
        let r = app
            .post(
                "/auth/reset-password",
                json!({"token": t, "newPassword": OTHER_PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["code"], "INVALID_TOKEN");
    }
}

#[tokio::test]
async fn concurrent_uses_of_one_reset_token_succeed_once() {
    let app = spawn_app().await;
    let email = "once@example.com";
    app.verified_user(email).await;
    app.post("/auth/forget-password", json!({"email": email}), None)
        .await;
    let token = query_param(&app.wait_link(email, "reset-password", 1).await, "token").unwrap();
    let statuses = app
        .concurrent(10, || {
            app.client
                .post(app.url("/auth/reset-password"))
                .json(&json!({"token": token, "newPassword": OTHER_PASSWORD}))
        })
        .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 400),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn change_password_keeps_the_current_session_and_revokes_others() {
    let app = spawn_app().await;
    let email = "change@example.com";
    let current = app.verified_user(email).await;
    let other = app.sign_in(email, PASSWORD).await.token();

    let wrong = app
        .post(
            "/auth/change-password",
            json!({"currentPassword": "not it at all", "newPassword": OTHER_PASSWORD}),
            Some(&current),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["reason"], "INVALID_CREDENTIALS");
    let weak = app
        .post(
            "/auth/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": "password"}),
            Some(&current),
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body["fields"]["newPassword"].is_array());
    let unauth = app
        .post(
            "/auth/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": OTHER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(unauth.status, 401);

    let r = app
        .post(
            "/auth/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": OTHER_PASSWORD}),
            Some(&current),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get("/auth/session", Some(&current)).await.status, 200);
    assert_eq!(app.get("/auth/session", Some(&other)).await.status, 401);
    assert_eq!(app.sign_in(email, OTHER_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn graphql_change_password_can_keep_other_sessions_and_counts_failures() {
    let app = spawn_app_with(&["--lockout-threshold", "2"]).await;
    let email = "gchange@example.com";
    let current = app.verified_user(email).await;
    let other = app.sign_in(email, PASSWORD).await.token();
    let input = json!({"currentPassword": PASSWORD, "newPassword": OTHER_PASSWORD, "revokeOtherSessions": false});
    let r = app
        .gql(CHANGE, json!({"input": input}), Some(&current))
        .await;
    assert_eq!(
        r.body["data"]["changePassword"]["status"], true,
        "{}",
        r.text
    );
    assert_eq!(app.get("/auth/session", Some(&other)).await.status, 200);

    let bad =
        json!({"currentPassword": "nope nope nope", "newPassword": "yet another fine passphrase"});
    let r = app.gql(CHANGE, json!({"input": bad}), Some(&current)).await;
    assert_eq!(r.gql_ext()["reason"], "INVALID_CREDENTIALS");
    let r = app.gql(CHANGE, json!({"input": bad}), Some(&current)).await;
    assert_eq!(r.gql_ext()["reason"], "INVALID_CREDENTIALS");
    // Locked now: sign-in and change-password are 423.
    assert_eq!(app.sign_in(email, OTHER_PASSWORD).await.status, 423);
    let good =
        json!({"currentPassword": OTHER_PASSWORD, "newPassword": "yet another fine passphrase"});
    let r = app
        .gql(CHANGE, json!({"input": good}), Some(&current))
        .await;
    assert_eq!(r.gql_ext()["code"], "ACCOUNT_LOCKED");
}

#[tokio::test]
async fn set_password_only_for_accounts_without_one() {
    let app = spawn_app().await;
    let email = "setpw@example.com";
    let token = app.verified_user(email).await;
    let r = app
        .post(
            "/auth/set-password",
            json!({"newPassword": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["code"], "CONFLICT");
    assert_eq!(r.body["reason"], "PASSWORD_ALREADY_SET");
    snap!("rest_password_already_set", r.body);

    // A social identity (as the social sign-in flow writes it) lets the password go.
    let user_id = app.user_id(&token).await;
    app.link_identity(&user_id, "acme", "sub-123").await;
    let r = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "credential"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.sign_in(email, PASSWORD).await.status, 401);

    let weak = app
        .gql(
            "mutation { setPassword(input: {newPassword: \"abc\"}) { status } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(weak.gql_ext()["code"], "VALIDATION_ERROR");
    assert!(weak.gql_ext()["fields"]["newPassword"].is_array());
    let ok = app
        .gql(
            "mutation($p: String!) { setPassword(input: {newPassword: $p}) { status } }",
            json!({"p": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(
        ok.body["data"]["setPassword"]["status"], true,
        "{}",
        ok.text
    );
    assert_eq!(app.sign_in(email, OTHER_PASSWORD).await.status, 200);
}
