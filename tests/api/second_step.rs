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
    let max_age = r.cookie_max_age("two_factor_ticket").unwrap();
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
    // The confirmation spent a step (the next one, near a step's end); use steps
    // after it: wait until the step after the current one is unused.
    let s = loop {
        let s = step_now();
        if s + 1 >= auth.unused_from() {
            break s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
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

/// Sends every `(path, body)` at once; the (status, body) of each.
async fn all_at_once(
    app: &TestApp,
    requests: Vec<(&str, serde_json::Value)>,
) -> Vec<(u16, serde_json::Value)> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(path, body)| {
            let req = app.client.post(app.url(path)).json(&body);
            tokio::spawn(async move {
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                (
                    status,
                    r.json::<serde_json::Value>().await.unwrap_or_default(),
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn concurrent_verifies_of_one_ticket_make_one_session() {
    let app = spawn_app().await;
    let (_, mut auth, codes) = user_with_2fa(&app, "race@example.com").await;
    for code in [auth.code().await, codes[1].clone()] {
        let ticket = first_step(&app, "race@example.com", PASSWORD).await;
        let body = json!({"ticket": ticket, "code": code});
        let answers = all_at_once(&app, vec![("/auth/two-factor/verify", body); 8]).await;
        assert_eq!(
            answers.iter().filter(|(s, _)| *s == 200).count(),
            1,
            "{answers:?}"
        );
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(
                (*status, body["reason"].as_str()),
                (401, Some("INVALID_TICKET")),
                "{body}"
            );
        }
    }
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM sessions").await,
        3,
        "enroll's + two"
    );
}

#[tokio::test]
async fn one_code_on_concurrent_tickets_through_both_doors_passes_once() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "steprace@example.com").await;
    let code = auth.code().await;
    let mut requests = Vec::new();
    for i in 0..6 {
        let ticket = first_step(&app, "steprace@example.com", PASSWORD).await;
        requests.push(if i % 2 == 0 {
            ("/auth/two-factor/verify", json!({"ticket": ticket, "code": code}))
        } else {
            (
                "/graphql",
                json!({
                    "query": "mutation($t: String, $c: String!) { verifyTwoFactor(input: {ticket: $t, code: $c}) { token } }",
                    "variables": {"t": ticket, "c": code},
                }),
            )
        });
    }
    let answers = all_at_once(&app, requests).await;
    let passed = answers
        .iter()
        .filter(|(s, b)| {
            *s == 200
                && (b["token"].is_string() || b["data"]["verifyTwoFactor"]["token"].is_string())
        })
        .count();
    assert_eq!(passed, 1, "{answers:?}");
    for (_, b) in &answers {
        if b["token"].is_string() || b["data"]["verifyTwoFactor"]["token"].is_string() {
            continue;
        }
        let reason = b["reason"]
            .as_str()
            .or(b["errors"][0]["extensions"]["reason"].as_str());
        assert_eq!(
            reason,
            Some("INVALID_CODE"),
            "a replayed step is a wrong code: {b}"
        );
    }
}

#[tokio::test]
async fn concurrent_uses_of_one_backup_code_succeed_once() {
    let app = spawn_app().await;
    let (_, _, codes) = user_with_2fa(&app, "bcrace@example.com").await;
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
                .json(&json!({"code": auth.code().await, "trustDevice": true})),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(
        v.body["session"]["authMethods"],
        json!(["oidc:test", "totp"])
    );
    let device = v.body["trustedDeviceToken"].as_str().unwrap().to_string();

    // The trusted browser skips the step at the callback too; the trust rotates.
    let start = app
        .post("/auth/sign-in/social", json!({"provider": "test"}), None)
        .await;
    let url = start.body["url"].as_str().unwrap().to_string();
    let cb = login_from(
        &start,
        &url,
        &login("sub-2fa", "social2fa@example.com", true),
    )
    .await;
    let r = app
        .send(app.client.get(app.url(&path_of(&cb.url))).header(
            "cookie",
            format!("oauth_state={}; trusted_device={device}", cb.binding),
        ))
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/").as_str()),
        "{}",
        r.text
    );
    let rotated = r.cookie("trusted_device").unwrap();
    assert!(!rotated.is_empty() && rotated != device);
    let session = app.get("/auth/session", Some(&r.token())).await;
    assert_eq!(
        session.body["session"]["authMethods"],
        json!(["oidc:test", "trusted-device"])
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

    // A link flow of a signed-in user with 2FA on links without a second step (§8.7).
    let token = v.token();
    let cb = crate::social::start_and_login(
        &app,
        "/auth/link-social",
        json!({"provider": "test", "callbackURL": "/linked"}),
        Some(&token),
        &login("sub-2fa-link", "elsewhere@example.com", false),
    )
    .await;
    let r = callback(&app, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/linked").as_str()),
        "{}",
        r.text
    );
    assert!(r.set_cookie("two_factor_ticket").is_none());
    let list = app.get("/auth/linked-accounts", Some(&token)).await;
    assert!(list.text.contains("sub-2fa-link"), "{}", list.text);

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
    // Without an error landing, the callback answers the 423 itself.
    let r = sign_in_social(&app, &login("sub-2fa", "social2fa@example.com", true)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (423, Some("TWO_FACTOR_LOCKED"))
    );
}

#[tokio::test]
async fn the_ticket_is_stored_as_its_hash_and_keeps_the_sign_in_s_remember_me() {
    let app = spawn_app().await;
    let (_, mut auth, _) = user_with_2fa(&app, "remember@example.com").await;
    let r = app
        .post(
            "/auth/sign-in/email",
            json!({"email": "remember@example.com", "password": PASSWORD, "rememberMe": false}),
            None,
        )
        .await;
    let ticket = r.body["twoFactor"]["ticket"].as_str().unwrap().to_string();
    let stored = app
        .sql_text("SELECT token_hash FROM two_factor_tickets", &[])
        .await;
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(ticket.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, hex);
    // GraphQL sets and clears the same cookies as REST.
    let v = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .header("cookie", format!("two_factor_ticket={ticket}"))
                .json(&json!({
                    "query": "mutation($c: String!) { verifyTwoFactor(input: {code: $c, trustDevice: true}) { session { expiresAt } trustedDeviceToken } }",
                    "variables": {"c": auth.code().await},
                })),
        )
        .await;
    let s = &v.body["data"]["verifyTwoFactor"];
    assert!(s["trustedDeviceToken"].is_string(), "{}", v.text);
    assert_eq!(
        v.cookie("trusted_device").as_deref(),
        s["trustedDeviceToken"].as_str()
    );
    assert_eq!(v.cookie("two_factor_ticket").as_deref(), Some(""));
    let session = v.session_cookie().unwrap();
    assert!(
        !session.contains("Max-Age"),
        "rememberMe: false kept: {session}"
    );
    let expires = chrono::DateTime::parse_from_rfc3339(s["session"]["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(expires - chrono::Utc::now().timestamp() <= 86_400);
}
