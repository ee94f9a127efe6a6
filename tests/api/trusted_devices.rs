//! Trusted devices (docs/api.md §8.6): granted by a right second step, skipping it on
//! the next sign-ins of that browser, rotated on use, forgotten by the flows that end
//! other access.

use serde_json::json;

use crate::authenticator::{first_step, user_with_2fa, verify};
use crate::helpers::*;

#[tokio::test]
async fn a_trusted_device_skips_the_step_across_a_sign_out_and_rotates() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "trust@example.com").await;
    let ticket = first_step(&app, "trust@example.com", PASSWORD).await;
    let v = verify(
        &app,
        &ticket,
        &auth.code().await,
        json!({"trustDevice": true}),
    )
    .await;
    assert_eq!(v.status, 200, "{}", v.text);
    let device = v.body["trustedDeviceToken"].as_str().unwrap().to_string();
    let cookie = v.set_cookie("trusted_device").unwrap().to_string();
    assert!(cookie.starts_with(&format!("trusted_device={device};")));
    let max_age = v.cookie_max_age("trusted_device").unwrap();
    assert!((2_591_990..=2_592_000).contains(&max_age), "{cookie}");

    // Sign out (the trust stays), sign in with the cookie: no second step.
    let out = app
        .send(app.client.post(app.url("/auth/logout")).header(
            "cookie",
            format!("session_token={}; trusted_device={device}", v.token()),
        ))
        .await;
    assert!(
        out.set_cookie("trusted_device").is_none(),
        "logout keeps the trust"
    );
    let sign_in_with = |cookie: String| {
        app.client
            .post(app.url("/auth/sign-in/email"))
            .header("cookie", cookie)
            .json(&json!({"email": "trust@example.com", "password": PASSWORD}))
    };
    let r = app
        .send(sign_in_with(format!("trusted_device={device}")))
        .await;
    assert_eq!(r.body["twoFactorRequired"], false, "{}", r.text);
    assert_eq!(
        r.body["session"]["authMethods"],
        json!(["password", "trusted-device"])
    );
    let rotated = r.body["trustedDeviceToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, device);
    assert_eq!(
        r.cookie("trusted_device").as_deref(),
        Some(rotated.as_str())
    );
    let new_age = r.cookie_max_age("trusted_device").unwrap();
    assert!(new_age <= max_age, "use never extends the trust");

    // The old value stopped working: the step is asked and the cookie cleared.
    let r = app
        .send(sign_in_with(format!("trusted_device={device}")))
        .await;
    assert_eq!(r.body["twoFactorRequired"], true);
    assert_eq!(r.cookie("trusted_device").as_deref(), Some(""));
    // The body carries it too (GraphQL), and then no cookie is cleared for a bad one.
    let g = app
        .gql(
            "mutation($t: String) { signInEmail(input: {email: \"trust@example.com\", password: \"correct horse battery staple\", trustedDeviceToken: $t}) { twoFactorRequired trustedDeviceToken session { authMethods } } }",
            json!({"t": rotated}),
            None,
        )
        .await;
    let s = &g.body["data"]["signInEmail"];
    assert_eq!(s["twoFactorRequired"], false, "{}", g.text);
    let third = s["trustedDeviceToken"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "trust@example.com", "password": PASSWORD, "trustedDeviceToken": "bogus"}),
            None,
        )
        .await;
    assert_eq!(r.body["twoFactorRequired"], true);
    assert!(r.set_cookie("trusted_device").is_none());

    // Another user's device is ignored; a lock does not block a trusted device.
    user_with_2fa(&app, "trust2@example.com").await;
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "trust2@example.com", "password": PASSWORD, "trustedDeviceToken": third}),
            None,
        )
        .await;
    assert_eq!(r.body["twoFactorRequired"], true);
    app.sql("UPDATE two_factor SET hard_locked = 1", &[]).await;
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "trust@example.com", "password": PASSWORD, "trustedDeviceToken": third}),
            None,
        )
        .await;
    assert_eq!(r.body["twoFactorRequired"], false, "{}", r.text);
}

#[tokio::test]
async fn revoking_other_sessions_forgets_the_other_devices_but_this_one() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "forget@example.com").await;
    let mut devices = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let ticket = first_step(&app, "forget@example.com", PASSWORD).await;
        let v = verify(
            &app,
            &ticket,
            &auth.code().await,
            json!({"trustDevice": true}),
        )
        .await;
        assert_eq!(v.status, 200, "{}", v.text);
        devices.push(v.body["trustedDeviceToken"].as_str().unwrap().to_string());
        sessions.push(v.token());
    }
    let r = app
        .send(
            app.client
                .post(app.url("/auth/revoke-other-sessions"))
                .header(
                    "cookie",
                    format!(
                        "session_token={}; trusted_device={}",
                        sessions[0], devices[0]
                    ),
                ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM trusted_devices")
            .await,
        1
    );
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "forget@example.com", "password": PASSWORD, "trustedDeviceToken": devices[0]}),
            None,
        )
        .await;
    assert_eq!(
        r.body["twoFactorRequired"], false,
        "this browser's trust stays"
    );
}

#[tokio::test]
async fn trust_is_ignored_while_trusted_devices_are_off() {
    let app = spawn_app_with(&["--trusted-device-secs", "0"]).await;
    let (_, mut auth, _) = user_with_2fa(&app, "notrust@example.com").await;
    let ticket = first_step(&app, "notrust@example.com", PASSWORD).await;
    let v = verify(
        &app,
        &ticket,
        &auth.code().await,
        json!({"trustDevice": true}),
    )
    .await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert!(v.body.get("trustedDeviceToken").is_none());
    assert!(v.set_cookie("trusted_device").is_none());
}

#[tokio::test]
async fn a_password_reset_keeps_2fa_and_voids_tickets_and_devices() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "keep@example.com").await;
    let ticket = first_step(&app, "keep@example.com", PASSWORD).await;
    let v = verify(
        &app,
        &ticket,
        &auth.code().await,
        json!({"trustDevice": true}),
    )
    .await;
    let device = v.body["trustedDeviceToken"].as_str().unwrap().to_string();
    let pending = first_step(&app, "keep@example.com", PASSWORD).await;
    app.reset_password("keep@example.com", OTHER_PASSWORD, 1)
        .await;
    let r = verify(&app, &pending, &auth.code().await, json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_TICKET");
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "keep@example.com", "password": OTHER_PASSWORD, "trustedDeviceToken": device}),
            None,
        )
        .await;
    assert_eq!(
        r.body["twoFactorRequired"], true,
        "2FA stays on; the device is forgotten"
    );
}

#[tokio::test]
async fn change_password_forgets_the_other_devices_and_a_new_grant_replaces_this_one() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "devices@example.com").await;
    let mut grants = Vec::new();
    for _ in 0..2 {
        let ticket = first_step(&app, "devices@example.com", PASSWORD).await;
        let v = verify(
            &app,
            &ticket,
            &auth.code().await,
            json!({"trustDevice": true}),
        )
        .await;
        grants.push((
            v.token(),
            v.body["trustedDeviceToken"].as_str().unwrap().to_string(),
        ));
    }
    // A new grant on the first browser replaces its earlier trust.
    let ticket = first_step(&app, "devices@example.com", PASSWORD).await;
    let v = app
        .send(
            app.client
                .post(app.url("/auth/two-factor/verify"))
                .header("cookie", format!("trusted_device={}", grants[0].1))
                .json(&json!({"ticket": ticket, "code": auth.code().await, "trustDevice": true})),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    let replaced = v.body["trustedDeviceToken"].as_str().unwrap().to_string();
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM trusted_devices")
            .await,
        2
    );
    let r = app
        .send(
            app.client
                .post(app.url("/auth/change-password"))
                .header(
                    "cookie",
                    format!("session_token={}; trusted_device={replaced}", v.token()),
                )
                .json(&json!({"currentPassword": PASSWORD, "newPassword": OTHER_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM trusted_devices")
            .await,
        1,
        "only this browser's trust is left"
    );
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "devices@example.com", "password": OTHER_PASSWORD, "trustedDeviceToken": replaced}),
            None,
        )
        .await;
    assert_eq!(r.body["twoFactorRequired"], false, "{}", r.text);
}
