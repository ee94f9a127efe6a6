//! The second step of a sign-in (docs/api.md §8.3–8.7) through REST and GraphQL:
//! tickets, TOTP steps, backup codes, the lock, trusted devices, the social callback.

use serde_json::json;

use crate::authenticator::{first_step, step_now, user_with_2fa, verify, wrong_code};
use crate::helpers::*;

#[tokio::test]
async fn a_right_password_asks_the_second_step_and_verify_makes_the_session() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "step@example.com").await;
    let wrong = app
        .sign_in("step@example.com", "not the password at all")
        .await;
    assert_eq!(
        wrong.body["reason"], "INVALID_CREDENTIALS",
        "the state never shows first"
    );

    let r = app.sign_in("step@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let obj = r.body.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["twoFactor", "twoFactorRequired"], "{}", r.text);
    crate::snap!("rest_two_factor_required", r.body);
    assert_eq!(
        r.body["twoFactor"]["methods"],
        json!(["totp", "backup-code"])
    );
    assert!(r.session_cookie().is_none());
    let ticket = r.body["twoFactor"]["ticket"].as_str().unwrap().to_string();
    let cookie = r.set_cookie("two_factor_ticket").unwrap().to_string();
    assert!(
        cookie.starts_with(&format!("two_factor_ticket={ticket};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/") && cookie.contains("SameSite=Lax")
    );
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((295..=300).contains(&max_age), "{cookie}");
    assert_eq!(
        app.get("/auth/session", Some(&ticket)).await.status,
        401,
        "a ticket is no session"
    );

    // The ticket from the cookie, a code with spaces.
    let code = auth.code().await;
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let v = app
        .send(
            app.client
                .post(app.url("/auth/two-factor/verify"))
                .header("cookie", format!("two_factor_ticket={ticket}"))
                .json(&json!({"code": spaced})),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    crate::snap!("rest_two_factor_verified", v.body);
    assert_eq!(v.body["twoFactorRequired"], false);
    assert_eq!(
        v.body["session"]["authMethods"],
        json!(["password", "totp"])
    );
    assert!(v.body.get("backupCodesRemaining").is_none());
    assert!(v.body.get("trustedDeviceToken").is_none());
    assert_eq!(
        v.cookie("two_factor_ticket").as_deref(),
        Some(""),
        "the ticket cookie goes"
    );
    let token = v.token();
    assert_eq!(v.body["token"], token.as_str());
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 200);
    let again = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(
        again.body["reason"], "INVALID_TICKET",
        "a ticket is single use"
    );
    let none = app
        .post("/auth/two-factor/verify", json!({"code": "123456"}), None)
        .await;
    assert_eq!(none.body["reason"], "INVALID_TICKET");
}

#[tokio::test]
async fn graphql_answers_the_same_step_with_nulls_and_a_backup_code_counts_down() {
    let app = spawn_app().await;
    let (_, _, codes) = user_with_2fa(&app, "gqlstep@example.com").await;
    let q = "mutation($e: String!, $p: String!) { signInEmail(input: {email: $e, password: $p}) { user { id } session { id } token twoFactorRequired twoFactor { ticket methods expiresAt } trustedDeviceToken backupCodesRemaining } }";
    let r = app
        .gql(q, json!({"e": "gqlstep@example.com", "p": PASSWORD}), None)
        .await;
    let s = &r.body["data"]["signInEmail"];
    assert_eq!(s["twoFactorRequired"], true, "{}", r.text);
    for field in [
        "user",
        "session",
        "token",
        "trustedDeviceToken",
        "backupCodesRemaining",
    ] {
        assert!(s[field].is_null(), "{field}: {}", r.text);
    }
    assert!(r.set_cookie("two_factor_ticket").is_some());
    let ticket = s["twoFactor"]["ticket"].as_str().unwrap();
    let v = app
        .gql(
            "mutation($t: String, $c: String!) { verifyTwoFactor(input: {ticket: $t, code: $c}) { token twoFactorRequired backupCodesRemaining session { authMethods } } }",
            json!({"t": ticket, "c": codes[0].to_uppercase()}),
            None,
        )
        .await;
    let v2 = &v.body["data"]["verifyTwoFactor"];
    assert_eq!(v2["backupCodesRemaining"], 9, "{}", v.text);
    assert_eq!(
        v2["session"]["authMethods"],
        json!(["password", "backup-code"])
    );
    assert_eq!(v.token(), v2["token"].as_str().unwrap());
    let (_, _, text) = app
        .wait_notice("gqlstep@example.com", "backup-code-used")
        .await;
    assert!(text.contains("9 unused backup code(s) remain"), "{text}");

    // A used backup code is a wrong code.
    let ticket = first_step(&app, "gqlstep@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &codes[0], json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    // With every code used, the challenge offers TOTP alone; 2FA stays on.
    app.sql("UPDATE backup_codes SET used_at = 1", &[]).await;
    let r = app.sign_in("gqlstep@example.com", PASSWORD).await;
    assert_eq!(r.body["twoFactor"]["methods"], json!(["totp"]));
}

#[tokio::test]
async fn a_step_is_accepted_once_and_only_one_step_either_side() {
    let app = spawn_app().await;
    let (token, auth, _) = user_with_2fa(&app, "window@example.com").await;
    // The confirmation spent a step; use steps after it.
    let s = step_now();
    let ticket = first_step(&app, "window@example.com", PASSWORD).await;
    for far in [s - 2, s + 2] {
        let code = auth.code_at(far);
        if (s - 1..=s + 1).any(|n| auth.code_at(n) == code) {
            continue; // a chance collision (one in a million) would be right
        }
        let r = verify(&app, &ticket, &code, json!({})).await;
        assert_eq!(r.body["reason"], "INVALID_CODE", "step {far}");
    }
    let code = auth.code_at(s + 1);
    let ok = verify(&app, &ticket, &code, json!({})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Replayed: a new sign-in, a step-up.
    let ticket = first_step(&app, "window@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &code, json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    let r = app
        .post("/auth/reauthenticate", json!({"code": code}), Some(&token))
        .await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    // An earlier step than the last accepted one is a replay too.
    let r = verify(&app, &ticket, &auth.code_at(s), json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
}

#[tokio::test]
async fn the_fifth_wrong_code_voids_the_ticket_and_logout_voids_it_too() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "five@example.com").await;
    let ticket = first_step(&app, "five@example.com", PASSWORD).await;
    for (i, code) in ["12345", "abc", "", &wrong_code(&auth), &wrong_code(&auth)]
        .iter()
        .enumerate()
    {
        let r = verify(&app, &ticket, code, json!({})).await;
        assert_eq!(r.body["reason"], "INVALID_CODE", "{i}: {}", r.text);
    }
    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_TICKET", "{}", r.text);

    let r = app.sign_in("five@example.com", PASSWORD).await;
    let ticket = r.body["twoFactor"]["ticket"].as_str().unwrap().to_string();
    let out = app
        .send(
            app.client
                .post(app.url("/auth/logout"))
                .header("cookie", format!("two_factor_ticket={ticket}")),
        )
        .await;
    assert_eq!(out.status, 200);
    assert_eq!(out.cookie("two_factor_ticket").as_deref(), Some(""));
    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_TICKET");
    // An expired ticket is refused.
    let ticket = first_step(&app, "five@example.com", PASSWORD).await;
    app.sql("UPDATE two_factor_tickets SET expires_at = 1", &[])
        .await;
    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_TICKET");
}

#[tokio::test]
async fn concurrent_verifies_of_one_ticket_make_one_session() {
    let app = spawn_app().await;
    let (_, mut auth, codes) = user_with_2fa(&app, "race@example.com").await;
    for code in [auth.code().await, codes[1].clone()] {
        let ticket = first_step(&app, "race@example.com", PASSWORD).await;
        let body = json!({"ticket": ticket, "code": code});
        let statuses = app
            .concurrent(8, || {
                app.client
                    .post(app.url("/auth/two-factor/verify"))
                    .json(&body)
            })
            .await;
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 401].contains(s)),
            "{statuses:?}"
        );
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM sessions").await,
        3,
        "enroll's + two"
    );
}

#[tokio::test]
async fn concurrent_uses_of_one_backup_code_succeed_once() {
    let app = spawn_app().await;
    let (_, mut auth, codes) = user_with_2fa(&app, "bcrace@example.com").await;
    let mut tickets = Vec::new();
    for _ in 0..6 {
        tickets.push(first_step(&app, "bcrace@example.com", PASSWORD).await);
    }
    let code = codes[2].clone();
    let tasks: Vec<_> = tickets
        .into_iter()
        .map(|t| {
            let c = app.client.clone();
            let url = app.url("/auth/two-factor/verify");
            let body = json!({"ticket": t, "code": code});
            tokio::spawn(async move { c.post(url).json(&body).send().await.unwrap().status() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    let _ = auth.code().await;
}

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
    app.post(
        "/auth/forget-password",
        json!({"email": "lock@example.com"}),
        None,
    )
    .await;
    let link = app.wait_link("lock@example.com", "reset-password", 1).await;
    let reset_token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let r = app
        .post(
            "/auth/reset-password",
            json!({"token": reset_token, "newPassword": OTHER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ticket = first_step(&app, "lock@example.com", OTHER_PASSWORD).await;
    let r = verify(&app, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

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
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
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
    let new_age: i64 = r
        .set_cookie("trusted_device")
        .unwrap()
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
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
    let (_, mut auth2, _) = user_with_2fa(&app, "trust2@example.com").await;
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
    let _ = auth2.code().await;
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
    app.post(
        "/auth/forget-password",
        json!({"email": "keep@example.com"}),
        None,
    )
    .await;
    let link = app.wait_link("keep@example.com", "reset-password", 1).await;
    let reset_token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let r = app
        .post(
            "/auth/reset-password",
            json!({"token": reset_token, "newPassword": OTHER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
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
async fn two_instances_sharing_the_key_finish_each_others_second_steps() {
    let a = spawn_app().await;
    let b = spawn_beside(&a, &[]).await;
    let (_, mut auth, _) = user_with_2fa(&a, "shared@example.com").await;
    let ticket = first_step(&b, "shared@example.com", PASSWORD).await;
    let r = verify(&a, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ticket = first_step(&a, "shared@example.com", PASSWORD).await;
    let r = verify(&b, &ticket, &auth.code().await, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn a_social_sign_in_asks_the_second_step_without_putting_the_ticket_in_a_url() {
    use crate::social::{PUBLIC, callback, login, login_from, sign_in_social, social_app};
    let app = social_app(&[]).await;
    let (_, mut auth, _) = user_with_2fa(&app, "social2fa@example.com").await;

    // Step 3 (same verified email): no session, the ticket cookie, the default landing.
    let r = sign_in_social(&app, &login("sub-2fa", "social2fa@example.com", true)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/?twoFactor=required").as_str())
    );
    assert!(r.session_cookie().is_none());
    let ticket = r.cookie("two_factor_ticket").unwrap();
    assert!(!ticket.is_empty());
    assert!(!r.header("location").unwrap().contains(&ticket));
    let v = app
        .send(
            app.client
                .post(app.url("/auth/two-factor/verify"))
                .header("cookie", format!("two_factor_ticket={ticket}"))
                .json(&json!({"code": auth.code().await})),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(
        v.body["session"]["authMethods"],
        json!(["oidc:test", "totp"])
    );

    // Step 2 (a known subject), with its own landing, through GraphQL's start.
    let start = app
        .gql(
            "mutation { socialSignIn(input: {provider: \"test\", callbackURL: \"/home\", twoFactorCallbackURL: \"/second-step\"}) { url } }",
            json!({}),
            None,
        )
        .await;
    let url = start.body["data"]["socialSignIn"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let cb = login_from(
        &start,
        &url,
        &login("sub-2fa", "social2fa@example.com", true),
    )
    .await;
    let r = callback(&app, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/second-step").as_str()),
        "{}",
        r.text
    );
    assert!(r.cookie("two_factor_ticket").is_some_and(|t| !t.is_empty()));

    // A foreign twoFactorCallbackURL is refused at the start.
    let bad = app
        .post(
            "/auth/sign-in/social",
            json!({"provider": "test", "twoFactorCallbackURL": "https://evil.example/"}),
            None,
        )
        .await;
    assert_eq!(bad.body["reason"], "INVALID_REDIRECT");

    // A second-factor lock sends the browser to the error landing.
    app.sql("UPDATE two_factor SET hard_locked = 1", &[]).await;
    let start = app
        .post(
            "/auth/sign-in/social",
            json!({"provider": "test", "errorCallbackURL": "/oops"}),
            None,
        )
        .await;
    let url = start.body["url"].as_str().unwrap().to_string();
    let cb = login_from(
        &start,
        &url,
        &login("sub-2fa", "social2fa@example.com", true),
    )
    .await;
    let r = callback(&app, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/oops?error=TWO_FACTOR_LOCKED").as_str())
    );
    assert!(r.set_cookie("two_factor_ticket").is_none());
}
