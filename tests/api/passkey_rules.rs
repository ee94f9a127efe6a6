//! Passkey refusals (docs/api.md §10, §7, §10.3): every verification failure, single-use
//! and session-bound ceremonies, the limit, duplicates, the last-method guard, step-up
//! and the locks, and two instances finishing each other's ceremonies.

use serde_json::json;

use crate::authenticator::{first_step, user_with_2fa, wrong_code};
use crate::helpers::{PASSWORD, spawn_beside};
use crate::passkeys::*;

#[tokio::test]
async fn a_registration_that_does_not_verify_is_refused() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("regfail@example.com").await;
    let cases = [
        (
            "wrong origin",
            tweak(|t| t.origin = Some("https://evil.example.test".into())),
        ),
        (
            "wrong RP ID hash",
            tweak(|t| t.rp_id = Some("example.test".into())),
        ),
        (
            "no user verification",
            tweak(|t| t.user_verified = Some(false)),
        ),
        (
            "wrong challenge",
            tweak(|t| t.challenge = Some(vec![7; 32])),
        ),
    ];
    for (what, t) in cases {
        let mut d = device();
        let (id, options) = register_options(&app, &token).await;
        let r = verify_registration(&app, &token, &id, d.register_with(&options, &t)).await;
        assert_eq!(
            (r.status.as_u16(), r.body["reason"].as_str()),
            (400, Some("PASSKEY_VERIFICATION_FAILED")),
            "{what}: {}",
            r.text
        );
        // The failure consumed the ceremony.
        let again = verify_registration(&app, &token, &id, d.register(&options)).await;
        assert_eq!(again.body["reason"], "INVALID_CEREMONY", "{what}");
    }
    assert_eq!(app.sql_count("SELECT COUNT(*) AS n FROM passkeys").await, 0);
    let r = verify_registration(&app, &token, "nope", json!({"id": 1})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["reason"],
        serde_json::Value::Null,
        "a malformed credential"
    );
}

#[tokio::test]
async fn a_registration_ceremony_is_single_use_and_bound_to_its_session() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("bound@example.com").await;
    let other_session = app.sign_in("bound@example.com", PASSWORD).await.token();
    let mut d = device();
    let (id, options) = register_options(&app, &token).await;
    let credential = d.register(&options);
    // Another session of the same user can neither use nor spend it.
    let r = verify_registration(&app, &other_session, &id, credential.clone()).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY", "{}", r.text);
    let r = verify_registration(&app, &token, &id, credential.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = verify_registration(&app, &token, &id, credential).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY", "replayed");
    // A sign-in ceremony is another kind: refused, and spent.
    let (sign_in_id, sign_in) = sign_in_options(&app).await;
    let (register_id, options) = register_options(&app, &token).await;
    let mut d2 = device();
    let r = verify_registration(&app, &token, &sign_in_id, d2.register(&options)).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY");
    let r = sign_in_with(&app, &sign_in_id, d.assert(&sign_in)).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY", "{}", r.text);
    // A registration ceremony at sign-in (no session) is another session's: refused,
    // and still there for its own session.
    let r = sign_in_with(&app, &register_id, d.assert(&sign_in)).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY");
    let r = verify_registration(&app, &token, &register_id, d2.register(&options)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // An expired one.
    let (id, options) = register_options(&app, &token).await;
    app.sql(
        "UPDATE webauthn_ceremonies SET expires_at = 0 WHERE id = $1",
        &[&id],
    )
    .await;
    let r = verify_registration(&app, &token, &id, d2.register(&options)).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY");
}

#[tokio::test]
async fn a_sign_in_that_does_not_verify_is_refused() {
    let app = passkey_app(&[]).await;
    let (_, mut d, _) = user_with_passkey(&app, "authfail@example.com").await;
    let cases = [
        (
            "wrong origin",
            tweak(|t| t.origin = Some("https://evil.example.test".into())),
        ),
        (
            "wrong RP ID hash",
            tweak(|t| t.rp_id = Some("example.test".into())),
        ),
        (
            "no user verification",
            tweak(|t| t.user_verified = Some(false)),
        ),
        (
            "wrong challenge",
            tweak(|t| t.challenge = Some(vec![9; 32])),
        ),
        (
            "unknown credential",
            tweak(|t| t.credential_id = Some(vec![1; 32])),
        ),
        (
            "unknown handle",
            tweak(|t| t.user_handle = Some(vec![2; 16])),
        ),
    ];
    for (what, t) in cases {
        let (id, options) = sign_in_options(&app).await;
        let r = sign_in_with(&app, &id, d.assert_with(&options, 0, &t)).await;
        assert_eq!(
            (r.status.as_u16(), r.body["reason"].as_str()),
            (401, Some("INVALID_CREDENTIALS")),
            "{what}: {}",
            r.text
        );
        assert!(r.session_cookie().is_none());
        let again = sign_in_with(&app, &id, d.assert(&options)).await;
        assert_eq!(again.body["reason"], "INVALID_CEREMONY", "{what}: consumed");
    }
    // The honest answer still works, once.
    let (id, options) = sign_in_options(&app).await;
    let credential = d.assert(&options);
    assert_eq!(
        sign_in_with(&app, &id, credential.clone()).await.status,
        200
    );
    let r = sign_in_with(&app, &id, credential).await;
    assert_eq!(r.body["reason"], "INVALID_CEREMONY", "replayed");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM sessions").await,
        2,
        "the sign-up's session and the one passkey sign-in"
    );
}

#[tokio::test]
async fn a_sign_count_that_goes_back_is_refused() {
    let app = passkey_app(&[]).await;
    let (_, mut d, _) = user_with_passkey(&app, "clone@example.com").await;
    for _ in 0..3 {
        assert_eq!(passkey_sign_in(&app, &mut d).await.status, 200);
    }
    // A clone made after the first sign-in reports the next count after it: 2.
    for count in [2, 3] {
        let (id, options) = sign_in_options(&app).await;
        let r = sign_in_with(
            &app,
            &id,
            d.assert_with(&options, 0, &tweak(|t| t.counter = Some(count))),
        )
        .await;
        assert_eq!(r.status, 401, "count {count}: {}", r.text);
    }
    let (id, options) = sign_in_options(&app).await;
    let r = sign_in_with(
        &app,
        &id,
        d.assert_with(&options, 0, &tweak(|t| t.counter = Some(4))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.sql_count("SELECT sign_count AS n FROM passkeys").await,
        4
    );
}

#[tokio::test]
async fn another_users_handle_does_not_sign_in() {
    let app = passkey_app(&[]).await;
    let alice = app.verified_user("alice@example.com").await;
    let bob = app.verified_user("bob@example.com").await;
    let mut a = device();
    let mut b = device();
    add_passkey(&app, &alice, &mut a).await;
    add_passkey(&app, &bob, &mut b).await;
    // Alice's credential presented under Bob's handle.
    let bob_handle = b.credentials()[0].user_handle.clone();
    let (id, options) = sign_in_options(&app).await;
    let r = sign_in_with(
        &app,
        &id,
        a.assert_with(&options, 0, &tweak(|t| t.user_handle = Some(bob_handle))),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // No handle at all (a non-discoverable credential answers without one).
    let (id, options) = sign_in_options(&app).await;
    let r = sign_in_with(
        &app,
        &id,
        a.assert_with(&options, 0, &tweak(|t| t.user_handle = Some(Vec::new()))),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.body["reason"], "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn registration_needs_a_step_up_and_a_passkey_proves_one() {
    let app = passkey_app(&["--fresh-auth-secs", "0"]).await;
    let token = app.verified_user("stepup@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = app
        .post(
            "/auth/passkey/generate-register-options",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "REAUTHENTICATION_REQUIRED", "{}", r.text);
    let r = app
        .post(
            "/auth/passkey/generate-register-options",
            json!({"password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (id, options) = ceremony(&r);
    let mut d = device();
    assert_eq!(
        verify_registration(&app, &token, &id, d.register(&options))
            .await
            .status,
        200
    );

    // reauthenticate with the passkey.
    let (id, options) = sign_in_options(&app).await;
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"ceremonyId": id, "credential": d.assert(&options)}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["freshUntil"].is_string());
    // Another user's passkey is no proof for this session.
    let other = app.verified_user("stepup2@example.com").await;
    let (id, options) = sign_in_options(&app).await;
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"ceremonyId": id, "credential": d.assert(&options)}),
            Some(&other),
        )
        .await;
    assert_eq!(r.body["reason"], "INVALID_CREDENTIALS", "{}", r.text);
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"ceremonyId": id, "credential": d.assert(&options)}),
            Some(&token),
        )
        .await;
    assert_eq!(
        r.body["reason"], "INVALID_CEREMONY",
        "spent by the failed proof"
    );
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"ceremonyId": "x"}),
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    // Through GraphQL: a right proof, then one answering another ceremony's challenge.
    let reauth =
        "mutation($i: ReauthenticateInput) { reauthenticate(input: $i) { status freshUntil } }";
    let (id, options) = sign_in_options(&app).await;
    let g = app
        .gql(
            reauth,
            json!({"i": {"ceremonyId": id, "credential": d.assert(&options)}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["data"]["reauthenticate"]["status"], true,
        "{}",
        g.text
    );
    let (first, options) = sign_in_options(&app).await;
    let (_, other_options) = sign_in_options(&app).await;
    assert_ne!(options["challenge"], other_options["challenge"]);
    let g = app
        .gql(
            reauth,
            json!({"i": {"ceremonyId": first, "credential": d.assert(&other_options)}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["errors"][0]["extensions"]["reason"], "INVALID_CREDENTIALS",
        "{}",
        g.text
    );
}

#[tokio::test]
async fn passkey_sign_in_skips_the_second_step_and_both_locks() {
    let app = passkey_app(&[
        "--lockout-threshold",
        "2",
        "--two-factor-lockout-threshold",
        "1",
    ])
    .await;
    let (token, auth, _) = user_with_2fa(&app, "locked@example.com").await;
    let mut d = device();
    add_passkey(&app, &token, &mut d).await;
    // Lock the second factor and the password.
    let ticket = first_step(&app, "locked@example.com", PASSWORD).await;
    let r = crate::authenticator::verify(&app, &ticket, &wrong_code(&auth), json!({})).await;
    assert_eq!(r.status, 401);
    for _ in 0..2 {
        app.sign_in("locked@example.com", "wrong password 123")
            .await;
    }
    // The password lock answers first, without a reason (the second-factor lock's is
    // TWO_FACTOR_LOCKED): both hold.
    let locked = app.sign_in("locked@example.com", PASSWORD).await;
    assert_eq!(
        (
            locked.status.as_u16(),
            locked.body["code"].as_str(),
            locked.body["reason"].as_str()
        ),
        (423, Some("ACCOUNT_LOCKED"), None),
        "{}",
        locked.text
    );
    let two_factor_lock = app
        .sql_count("SELECT locked_until AS n FROM two_factor")
        .await;
    let s = passkey_sign_in(&app, &mut d).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["twoFactorRequired"], false);
    assert_eq!(s.body["session"]["authMethods"], json!(["passkey"]));
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        1,
        "counts toward neither lock"
    );
    assert_eq!(
        app.sql_count("SELECT locked_until AS n FROM two_factor")
            .await,
        two_factor_lock
    );
    let again = app.sign_in("locked@example.com", PASSWORD).await;
    assert_eq!(
        (again.status.as_u16(), again.body["reason"].as_str()),
        (423, None)
    );
}

#[tokio::test]
async fn two_instances_finish_each_others_ceremonies() {
    let a = passkey_app(&[]).await;
    let b = spawn_beside(&a, &["--app-url", ORIGIN]).await;
    let token = a.verified_user("pair@example.com").await;
    let mut d = device();
    let (id, options) = register_options(&a, &token).await;
    let r = verify_registration(&b, &token, &id, d.register(&options)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (id, options) = sign_in_options(&b).await;
    let r = sign_in_with(&a, &id, d.assert(&options)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (id, options) = sign_in_options(&a).await;
    let credential = d.assert(&options);
    assert_eq!(sign_in_with(&b, &id, credential.clone()).await.status, 200);
    assert_eq!(
        sign_in_with(&a, &id, credential).await.body["reason"],
        "INVALID_CEREMONY",
        "single use across instances"
    );
}
