//! Passkey limits and the last-method guard (docs/api.md §10.1, §10.3, §7 rule 2),
//! concurrency included; what passkeys survive; the backup state; resident keys; the
//! refusals through GraphQL; passkeys off answering 404 first.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};
use crate::passkey_device::PasskeyDevice;
use crate::passkeys::*;

#[tokio::test]
async fn the_limit_and_duplicate_credentials_are_conflicts() {
    let app = passkey_app(&["--passkey-max", "1"]).await;
    let token = app.verified_user("limit@example.com").await;
    let mut d = device();
    // Two ceremonies started under the limit: the second finish is refused.
    let (first, o1) = register_options(&app, &token).await;
    let (second, o2) = register_options(&app, &token).await;
    assert_eq!(
        verify_registration(&app, &token, &first, d.register(&o1))
            .await
            .status,
        200
    );
    let r = verify_registration(&app, &token, &second, d.register(&o2)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (409, Some("PASSKEY_LIMIT_REACHED"))
    );
    let r = app
        .post(
            "/auth/passkey/generate-register-options",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "PASSKEY_LIMIT_REACHED", "{}", r.text);

    // The same credential id for another user.
    let other = app.verified_user("dup@example.com").await;
    let taken = d.credentials()[0].id.clone();
    let (id, options) = register_options(&app, &other).await;
    let mut d2 = device();
    let r = verify_registration(
        &app,
        &other,
        &id,
        d2.register_with(&options, &tweak(|t| t.credential_id = Some(taken))),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (409, Some("PASSKEY_ALREADY_REGISTERED")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_known_credential_id_is_a_conflict_only_once_it_verified() {
    let app = passkey_app(&[]).await;
    let (token, mut d, _) = user_with_passkey(&app, "again@example.com").await;
    let taken = d.credentials()[0].id.clone();
    // The user's own (excluded) credential again: a conflict.
    let (id, options) = register_options(&app, &token).await;
    let again = tweak(|t| t.credential_id = Some(taken.clone()));
    let r = verify_registration(&app, &token, &id, d.register_with(&options, &again)).await;
    assert_eq!(r.body["reason"], "PASSKEY_ALREADY_REGISTERED", "{}", r.text);
    // The same id on a credential that does not verify: a verification failure (the
    // id is the client's word until then).
    let (id, options) = register_options(&app, &token).await;
    let forged = tweak(|t| {
        t.credential_id = Some(taken);
        t.origin = Some("https://evil.example.test".into());
    });
    let r = verify_registration(&app, &token, &id, d.register_with(&options, &forged)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (400, Some("PASSKEY_VERIFICATION_FAILED")),
        "{}",
        r.text
    );
    assert_eq!(app.sql_count("SELECT COUNT(*) AS n FROM passkeys").await, 1);
}

#[tokio::test]
async fn the_last_sign_in_method_counts_passkeys() {
    let app = passkey_app(&[]).await;
    let (token, mut d, first) = user_with_passkey(&app, "last@example.com").await;
    // The password can go: a passkey remains.
    let r = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "credential"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = delete_passkey(&app, &first, &token).await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (403, Some("LAST_LOGIN_METHOD"))
    );
    let second = add_passkey(&app, &token, &mut d).await;
    let r = delete_passkey(&app, &first, &token).await;
    assert_eq!(r.status, 200);
    let r = delete_passkey(&app, &second, &token).await;
    assert_eq!(r.body["reason"], "LAST_LOGIN_METHOD");
    // linked-accounts lists neither the password (gone) nor passkeys.
    let l = app.get("/auth/linked-accounts", Some(&token)).await;
    assert_eq!(l.body["accounts"], json!([]), "{}", l.text);
    // Deleting the account takes the passkeys with it.
    let r = app.post("/auth/delete-user", json!({}), Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.sql_count("SELECT COUNT(*) AS n FROM passkeys").await, 0);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM webauthn_handles")
            .await,
        0
    );
}

#[tokio::test]
async fn at_the_limit_a_proof_is_neither_checked_nor_spent() {
    let app = passkey_app(&["--passkey-max", "1", "--lockout-threshold", "1"]).await;
    let (token, _, _) = user_with_passkey(&app, "spent@example.com").await;
    // A wrong password at the limit: 409, and the lockout counted nothing (one failure
    // would lock at threshold 1).
    let r = app
        .post(
            "/auth/passkey/generate-register-options",
            json!({"password": "not the password at all"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "PASSKEY_LIMIT_REACHED", "{}", r.text);
    assert_eq!(app.sign_in("spent@example.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn concurrent_registrations_cannot_pass_the_limit() {
    let app = passkey_app(&["--passkey-max", "2"]).await;
    let (token, mut d, _) = user_with_passkey(&app, "race@example.com").await;
    let mut pending = Vec::new();
    for _ in 0..4 {
        let (id, options) = register_options(&app, &token).await;
        pending.push((id, d.register(&options)));
    }
    let requests = pending.into_iter().map(|(id, credential)| {
        app.client
            .post(app.url("/auth/passkey/verify-registration"))
            .header("cookie", format!("session_token={token}"))
            .json(&json!({"ceremonyId": id, "credential": credential}))
    });
    let mut answers = all_at_once(requests).await;
    answers.sort();
    assert_eq!(answers, [200, 409, 409, 409], "{answers:?}");
    assert_eq!(app.sql_count("SELECT COUNT(*) AS n FROM passkeys").await, 2);
}

#[tokio::test]
async fn concurrent_removals_cannot_leave_an_account_without_a_way_in() {
    let app = passkey_app(&[]).await;
    for round in 0..3 {
        let email = format!("both{round}@example.com");
        let token = app.verified_user(&email).await;
        let mut d = device();
        let passkey = add_passkey(&app, &token, &mut d).await;
        // The password and the passkey removed at once: one must stay.
        let (a, b) = tokio::join!(
            app.post(
                "/auth/unlink-provider",
                json!({"provider": "credential"}),
                Some(&token)
            ),
            delete_passkey(&app, &passkey, &token),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 403], "{} / {}", a.text, b.text);
        let left = app
            .sql_count(&format!(
                "SELECT (SELECT COUNT(*) FROM passkeys) + (SELECT COUNT(*) FROM users \
                 WHERE email = '{email}' AND password_hash IS NOT NULL) AS n"
            ))
            .await;
        assert!(left >= 1, "round {round}: no way in left");
        app.post("/auth/delete-user", json!({}), Some(&token)).await;
    }
}

#[tokio::test]
async fn passkeys_survive_a_password_reset() {
    let app = passkey_app(&[]).await;
    let (token, mut d, _) = user_with_passkey(&app, "reset@example.com").await;
    app.reset_password("reset@example.com", "a brand new horse battery", 1)
        .await;
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 401);
    let s = passkey_sign_in(&app, &mut d).await;
    assert_eq!(s.status, 200, "{}", s.text);
}

#[tokio::test]
async fn the_backup_state_follows_the_authenticator() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("synced@example.com").await;
    let mut d = PasskeyDevice::new_synced(ORIGIN, RP_ID);
    add_passkey(&app, &token, &mut d).await;
    let listed = |app: &crate::helpers::TestApp| {
        let token = token.clone();
        let app_url = app.url("/auth/passkey/list-user-passkeys");
        let client = app.client.clone();
        async move {
            let r = client
                .get(app_url)
                .header("cookie", format!("session_token={token}"))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["passkeys"][0]["backedUp"].clone()
        }
    };
    assert_eq!(listed(&app).await, true);
    // Still eligible, no longer backed up: accepted and recorded.
    let (id, options) = sign_in_options(&app).await;
    let r = sign_in_with(
        &app,
        &id,
        d.assert_with(&options, 0, &tweak(|t| t.backup = Some((true, false)))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(listed(&app).await, false);
    // A credential that stops being backup eligible is not the one registered.
    let (id, options) = sign_in_options(&app).await;
    let r = sign_in_with(
        &app,
        &id,
        d.assert_with(&options, 0, &tweak(|t| t.backup = Some((false, false)))),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
}

#[tokio::test]
async fn a_credential_the_browser_reports_as_not_discoverable_is_refused() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("rk@example.com").await;
    let mut d = device();
    let (id, options) = register_options(&app, &token).await;
    let mut credential = d.register(&options);
    credential["clientExtensionResults"] = json!({"credProps": {"rk": false}});
    let r = verify_registration(&app, &token, &id, credential).await;
    assert_eq!(
        r.body["reason"], "PASSKEY_VERIFICATION_FAILED",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn the_refusals_read_the_same_through_graphql() {
    let app = passkey_app(&["--passkey-max", "1"]).await;
    let token = app.verified_user("gqlref@example.com").await;
    let verify = "mutation($i: VerifyPasskeyRegistrationInput!) { verifyPasskeyRegistration(input: $i) { passkey { id } } }";
    let reason = |r: &crate::helpers::Reply| r.body["errors"][0]["extensions"]["reason"].clone();
    let mut d = device();
    let (id, options) = register_options(&app, &token).await;
    let bad = d.register_with(&options, &tweak(|t| t.user_verified = Some(false)));
    let g = app
        .gql(
            verify,
            json!({"i": {"ceremonyId": id, "credential": bad}}),
            Some(&token),
        )
        .await;
    assert_eq!(reason(&g), "PASSKEY_VERIFICATION_FAILED", "{}", g.text);
    let g = app
        .gql(
            verify,
            json!({"i": {"ceremonyId": id, "credential": bad}}),
            Some(&token),
        )
        .await;
    assert_eq!(reason(&g), "INVALID_CEREMONY");
    assert_eq!(g.body["errors"][0]["extensions"]["status"], 400);
    add_passkey(&app, &token, &mut d).await;
    let g = app
        .gql(
            "mutation { generatePasskeyRegistrationOptions { ceremonyId } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(reason(&g), "PASSKEY_LIMIT_REACHED", "{}", g.text);
    let other = app.verified_user("gqlref2@example.com").await;
    let (id, options) = register_options(&app, &other).await;
    // The device's newest credential is the registered one (the first was refused).
    let taken = d.credentials().last().unwrap().id.clone();
    let dup = device().register_with(&options, &tweak(|t| t.credential_id = Some(taken)));
    let g = app
        .gql(
            verify,
            json!({"i": {"ceremonyId": id, "credential": dup}}),
            Some(&other),
        )
        .await;
    assert_eq!(reason(&g), "PASSKEY_ALREADY_REGISTERED", "{}", g.text);
    let (id, options) = sign_in_options(&app).await;
    let g = app
        .gql(
            "mutation($i: SignInPasskeyInput!) { signInPasskey(input: $i) { token } }",
            json!({"i": {"ceremonyId": id, "credential": d.assert_with(&options, 1, &tweak(|t| t.rp_id = Some("x.test".into())))}}),
            None,
        )
        .await;
    assert_eq!(reason(&g), "INVALID_CREDENTIALS", "{}", g.text);
    assert_eq!(g.body["errors"][0]["extensions"]["status"], 401);
}

#[tokio::test]
async fn while_passkeys_are_off_every_route_is_404_first() {
    let app = spawn_app().await;
    for path in [
        "/auth/passkey/generate-register-options",
        "/auth/passkey/verify-registration",
        "/auth/sign-in/passkey",
        "/auth/passkey/update-passkey",
        "/auth/passkey/delete-passkey",
    ] {
        // No session, and a body that is not an object.
        let r = app
            .send(
                app.client
                    .post(app.url(path))
                    .header("content-type", "application/json")
                    .body("[1]"),
            )
            .await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    let r = app.get("/auth/passkey/list-user-passkeys", None).await;
    assert_eq!(r.status, 404);
    let g = app
        .gql(
            "mutation { updatePasskey(input: {id: \"x\", name: \"\"}) { passkey { id } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        g.body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{}",
        g.text
    );
}

#[tokio::test]
async fn of_concurrent_assertions_with_one_count_at_most_one_signs_in() {
    let app = passkey_app(&[]).await;
    let (_, mut d, _) = user_with_passkey(&app, "cas@example.com").await;
    // Eight ceremonies answered with the same count, as a clone racing the original.
    let mut bodies = Vec::new();
    for _ in 0..8 {
        let (id, options) = sign_in_options(&app).await;
        let credential = d.assert_with(&options, 0, &tweak(|t| t.counter = Some(5)));
        bodies.push(json!({"ceremonyId": id, "credential": credential}));
    }
    let requests = bodies
        .iter()
        .map(|body| app.client.post(app.url("/auth/sign-in/passkey")).json(body));
    let mut answers = all_at_once(requests).await;
    answers.sort();
    assert_eq!(
        answers,
        [200, 401, 401, 401, 401, 401, 401, 401],
        "{answers:?}"
    );
}

/// Sends the requests at once; their statuses, in order.
async fn all_at_once(requests: impl Iterator<Item = reqwest::RequestBuilder>) -> Vec<u16> {
    let tasks: Vec<_> = requests
        .map(|req| tokio::spawn(async move { req.send().await.unwrap().status().as_u16() }))
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}
