//! Two-factor management (docs/api.md §8.1, §8.2, §8.7) and the step-up `code` proof
//! (§7), through REST and GraphQL; codes are computed from the secret latch showed.

use serde_json::json;

use crate::authenticator::{Authenticator, first_step, turn_on, user_with_2fa, verify, wrong_code};
use crate::helpers::*;

/// Makes every session of the database stale, as if signed in long ago (§7).
async fn make_stale(app: &TestApp) {
    app.sql("UPDATE sessions SET authenticated_at = 0", &[])
        .await;
}

#[tokio::test]
async fn enrollment_shows_the_secret_once_and_the_first_code_turns_2fa_on() {
    let app = spawn_app().await;
    let token = app.verified_user("enroll@example.com").await;
    let s = app.get("/auth/two-factor/status", Some(&token)).await;
    assert_eq!(
        s.body,
        json!({"enabled": false, "methods": [], "backupCodesRemaining": 0, "pendingEnrollment": false})
    );

    let e = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    let mut keys: Vec<&String> = e.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["expiresAt", "qrCode", "secret", "totpURI"]);
    let secret = e.body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert_eq!(
        e.body["totpURI"],
        format!("otpauth://totp/latch:enroll%40example.com?secret={secret}&issuer=latch")
    );
    let qr = e.body["qrCode"].as_str().unwrap();
    let svg = qr.strip_prefix("data:image/svg+xml;base64,").expect(qr);
    use base64::Engine;
    let svg = base64::engine::general_purpose::STANDARD
        .decode(svg)
        .unwrap();
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    let expires = e.body["expiresAt"].as_str().unwrap();
    let left = chrono::DateTime::parse_from_rfc3339(expires)
        .unwrap()
        .timestamp()
        - chrono::Utc::now().timestamp();
    assert!((590..=600).contains(&left), "{left}");

    // Stored sealed, never as shown.
    let stored = app
        .sql_text("SELECT pending_secret FROM two_factor", &[])
        .await;
    assert!(!stored.contains(secret) && stored.len() > 40, "{stored}");
    let s = app.get("/auth/two-factor/status", Some(&token)).await;
    assert_eq!(s.body["pendingEnrollment"], true);
    assert_eq!(s.body["enabled"], false);

    let mut auth = Authenticator::new(secret);
    let bad = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": wrong_code(&auth)}),
            Some(&token),
        )
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.body["reason"], "INVALID_CODE");
    let other = app.sign_in("enroll@example.com", PASSWORD).await.token();

    let c = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": auth.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.body["enabled"], true);
    let codes = c.body["backupCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert_eq!(code.len(), 11, "{code}");
        assert_eq!(&code[5..6], "-");
        assert!(
            code.bytes()
                .all(|b| b == b'-' || b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b))
        );
    }
    let g = app
        .gql(
            "{ twoFactorStatus { enabled methods backupCodesRemaining pendingEnrollment } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["data"]["twoFactorStatus"],
        json!({"enabled": true, "methods": ["totp", "backup-code"], "backupCodesRemaining": 10, "pendingEnrollment": false})
    );
    app.wait_notice("enroll@example.com", "two-factor-enabled")
        .await;
    assert_eq!(
        app.get("/auth/session", Some(&other)).await.status,
        401,
        "other sessions end by default"
    );
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 200);
    // The wrong confirmation did not count toward the lock.
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        0
    );
}

#[tokio::test]
async fn confirm_needs_a_live_enrollment_and_the_fifth_wrong_code_voids_it() {
    let app = spawn_app().await;
    let token = app.verified_user("void@example.com").await;
    let r = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": "123456"}),
            Some(&token),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["reason"].as_str()),
        (400, Some("NO_PENDING_ENROLLMENT"))
    );

    let e = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    let mut auth = Authenticator::new(e.body["secret"].as_str().unwrap());
    for i in 0..5 {
        let code = if i == 0 {
            "not a code".to_string()
        } else {
            wrong_code(&auth)
        };
        let r = app
            .post(
                "/auth/two-factor/totp/confirm",
                json!({"code": code}),
                Some(&token),
            )
            .await;
        assert_eq!(r.body["reason"], "INVALID_CODE", "{i}: {}", r.text);
    }
    let r = app
        .gql(
            "mutation($c: String!) { confirmTotp(input: {code: $c}) { enabled } }",
            json!({"c": auth.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(r.gql_ext()["reason"], "NO_PENDING_ENROLLMENT", "{}", r.text);
    assert_eq!(r.gql_ext()["status"], 400);

    // An expired enrollment is no enrollment either.
    let e = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    let mut auth = Authenticator::new(e.body["secret"].as_str().unwrap());
    app.sql("UPDATE two_factor SET pending_expires_at = 1", &[])
        .await;
    let r = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": auth.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "NO_PENDING_ENROLLMENT", "{}", r.text);
}

#[tokio::test]
async fn enroll_backup_codes_and_disable_need_a_step_up_and_check_their_conditions_first() {
    let app = spawn_app().await;
    let token = app.verified_user("stepup2fa@example.com").await;
    make_stale(&app).await;
    for path in [
        "/auth/two-factor/generate-backup-codes",
        "/auth/two-factor/disable",
    ] {
        let r = app.post(path, json!({}), Some(&token)).await;
        assert_eq!(
            (r.status.as_u16(), r.body["reason"].as_str()),
            (409, Some("TWO_FACTOR_NOT_ENABLED")),
            "{path}"
        );
    }
    let r = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    assert_eq!(r.body["reason"], "REAUTHENTICATION_REQUIRED", "{}", r.text);
    let r = app
        .gql(
            "mutation { enrollTotp { secret } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r.gql_ext()["reason"], "REAUTHENTICATION_REQUIRED");
    let r = app
        .post(
            "/auth/two-factor/totp/enroll",
            json!({"password": "wrong password 123"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "INVALID_CREDENTIALS");
    let e = app
        .post(
            "/auth/two-factor/totp/enroll",
            json!({"password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    let mut auth = Authenticator::new(e.body["secret"].as_str().unwrap());
    let c = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": auth.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    let first_codes = c.body["backupCodes"].clone();

    make_stale(&app).await;
    for path in [
        "/auth/two-factor/generate-backup-codes",
        "/auth/two-factor/disable",
    ] {
        let r = app.post(path, json!({}), Some(&token)).await;
        assert_eq!(r.body["reason"], "REAUTHENTICATION_REQUIRED", "{path}");
    }
    // A TOTP code is a step-up proof; it is spent.
    let code = auth.code().await;
    let g = app
        .post(
            "/auth/two-factor/generate-backup-codes",
            json!({"code": code}),
            Some(&token),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.text);
    let new_codes = g.body["backupCodes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);
    assert_ne!(&first_codes, &g.body["backupCodes"]);
    app.wait_notice("stepup2fa@example.com", "backup-codes-regenerated")
        .await;
    make_stale(&app).await;
    let r = app
        .post("/auth/reauthenticate", json!({"code": code}), Some(&token))
        .await;
    assert_eq!(
        r.body["reason"], "INVALID_CODE",
        "a spent step is a wrong code"
    );
    // An old backup code no longer works; a new one does, once.
    let old = first_codes[0].as_str().unwrap();
    let r = app
        .post("/auth/reauthenticate", json!({"code": old}), Some(&token))
        .await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    let new = new_codes[0]
        .as_str()
        .unwrap()
        .to_uppercase()
        .replace('-', " ");
    let r = app
        .post("/auth/reauthenticate", json!({"code": new}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_, _, text) = app
        .wait_notice("stepup2fa@example.com", "backup-code-used")
        .await;
    assert!(text.contains("9 unused backup code(s) remain"), "{text}");
    let r = app
        .post("/auth/reauthenticate", json!({"code": new}), Some(&token))
        .await;
    assert_eq!(r.body["reason"], "INVALID_CODE");

    let other = app.sign_in("stepup2fa@example.com", PASSWORD).await;
    assert_eq!(other.body["twoFactorRequired"], true);
    let other_ticket = other.body["twoFactor"]["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    // A trusted device and a pending second step, which disable must remove.
    let other = verify(
        &app,
        &other_ticket,
        &auth.code().await,
        json!({"trustDevice": true}),
    )
    .await
    .token();
    first_step(&app, "stepup2fa@example.com", PASSWORD).await;
    for table in ["two_factor_tickets", "trusted_devices"] {
        let n = app
            .sql_count(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await;
        assert_eq!(n, 1, "{table} before disable");
    }
    make_stale(&app).await;
    let d = app
        .gql(
            "mutation($p: String) { disableTwoFactor(input: {password: $p}) { status } }",
            json!({"p": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(
        d.body["data"]["disableTwoFactor"]["status"], true,
        "{}",
        d.text
    );
    app.wait_notice("stepup2fa@example.com", "two-factor-disabled")
        .await;
    assert_eq!(
        app.get("/auth/session", Some(&other)).await.status,
        200,
        "kept by default"
    );
    for table in [
        "two_factor",
        "backup_codes",
        "two_factor_tickets",
        "trusted_devices",
    ] {
        assert_eq!(
            app.sql_count(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .await,
            0,
            "{table}"
        );
    }
    let r = app.sign_in("stepup2fa@example.com", PASSWORD).await;
    assert_eq!(r.body["twoFactorRequired"], false);
    assert!(r.body["token"].is_string());
}

#[tokio::test]
async fn disable_can_end_the_other_sessions_and_a_code_without_2fa_counts_nothing() {
    let app = spawn_app().await;
    let token = app.verified_user("off@example.com").await;
    let r = app
        .post(
            "/auth/reauthenticate",
            json!({"code": "123456"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    let (mut auth, _) = turn_on(&app, &token).await;
    let ticket = first_step(&app, "off@example.com", PASSWORD).await;
    let other = verify(&app, &ticket, &auth.code().await, json!({}))
        .await
        .token();
    let r = app
        .post(
            "/auth/two-factor/disable",
            json!({"code": auth.code().await, "revokeOtherSessions": true}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body, json!({"status": true}), "{}", r.text);
    assert_eq!(app.get("/auth/session", Some(&other)).await.status, 401);
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn replacing_the_authenticator_keeps_the_old_one_until_the_new_one_is_confirmed() {
    let app = spawn_app().await;
    let (token, mut old, codes) = user_with_2fa(&app, "swap@example.com").await;
    let e = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    let s = app.get("/auth/two-factor/status", Some(&token)).await;
    assert_eq!(
        (
            s.body["enabled"].clone(),
            s.body["pendingEnrollment"].clone()
        ),
        (json!(true), json!(true))
    );

    // The old authenticator still signs in while the new one waits.
    let ticket = first_step(&app, "swap@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &old.code().await, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut new = old.replaced_by(e.body["secret"].as_str().unwrap());

    let c = app
        .gql(
            "mutation($c: String!) { confirmTotp(input: {code: $c, revokeOtherSessions: false}) { enabled backupCodes } }",
            json!({"c": new.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(
        c.body["data"]["confirmTotp"],
        json!({"enabled": true, "backupCodes": null}),
        "{}",
        c.text
    );
    app.wait_notice("swap@example.com", "totp-replaced").await;
    assert_eq!(
        app.get("/auth/session", Some(&r.token())).await.status,
        200,
        "revokeOtherSessions: false"
    );
    // The backup codes were kept; the old secret's codes no longer work, the new one's do.
    let s = app.get("/auth/two-factor/status", Some(&token)).await;
    assert_eq!(s.body["backupCodesRemaining"], 10);
    let ticket = first_step(&app, "swap@example.com", PASSWORD).await;
    let (new_code, old_code) = new.code_beside(&old).await;
    let r = verify(&app, &ticket, &old_code, json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE", "{}", r.text);
    let r = verify(&app, &ticket, &new_code, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ticket = first_step(&app, "swap@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &codes[3], json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn the_operator_resets_two_factor_and_unlocks_a_lasting_lock() {
    let app = spawn_app().await;
    let (token, auth, _) = user_with_2fa(&app, "opreset@example.com").await;
    app.sql("UPDATE two_factor SET failures = 99", &[]).await;
    let ticket = first_step(&app, "opreset@example.com", PASSWORD).await;
    let r = verify(&app, &ticket, &wrong_code(&auth), json!({})).await;
    assert_eq!(r.body["reason"], "INVALID_CODE");
    let r = app.sign_in("opreset@example.com", PASSWORD).await;
    assert_eq!(r.body["reason"], "TWO_FACTOR_LOCKED");
    assert!(
        r.header("retry-after").is_none(),
        "a lasting lock has no end to announce"
    );

    for _ in 0..6 {
        app.sign_in("opreset@example.com", "a wrong password for the lock")
            .await;
    }
    assert_eq!(
        app.sign_in("opreset@example.com", PASSWORD).await.status,
        423
    );
    let out = crate::account_deletion::operator(&app, &["unlock", "opreset@example.com"]);
    assert!(out.status.success(), "{out:?}");
    // Both locks lifted, both counts reset.
    first_step(&app, "opreset@example.com", PASSWORD).await;
    assert_eq!(
        app.sql_count("SELECT failures AS n FROM two_factor").await,
        0
    );
    assert_eq!(
        app.sql_count("SELECT hard_locked AS n FROM two_factor")
            .await,
        0
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM sign_in_failures")
            .await,
        0
    );

    let out = crate::account_deletion::operator(&app, &["reset-two-factor", "opreset@example.com"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 401);
    let r = app.sign_in("opreset@example.com", PASSWORD).await;
    assert_eq!(r.body["twoFactorRequired"], false, "{}", r.text);
    assert!(
        app.notices_to("opreset@example.com")
            .contains(&"two-factor-reset".to_string())
    );
    assert!(
        !app.notices_to("opreset@example.com")
            .contains(&"two-factor-disabled".to_string())
    );
    for table in ["two_factor", "backup_codes"] {
        assert_eq!(
            app.sql_count(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .await,
            0,
            "{table}"
        );
    }
}

#[tokio::test]
async fn a_new_enrollment_replaces_a_pending_one_and_codes_are_stored_as_argon2id() {
    let app = spawn_app().await;
    let token = app.verified_user("again@example.com").await;
    let first = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    let second = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(&token))
        .await;
    let mut old = Authenticator::new(first.body["secret"].as_str().unwrap());
    let mut new = Authenticator::new(second.body["secret"].as_str().unwrap());
    let r = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": old.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(
        r.body["reason"], "INVALID_CODE",
        "the replaced enrollment's code"
    );
    let r = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": new.code().await}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shown = r.body["backupCodes"].as_array().unwrap().clone();
    assert_eq!(
        app.sql_count("SELECT COUNT(*) AS n FROM backup_codes WHERE code_hash LIKE '$argon2id$%'")
            .await,
        10
    );
    for code in &shown {
        let code = code.as_str().unwrap().replace('-', "");
        let n = app
            .sql_count(&format!(
                "SELECT COUNT(*) AS n FROM backup_codes WHERE code_hash LIKE '%{code}%'"
            ))
            .await;
        assert_eq!(n, 0, "a code is never stored as it is");
    }
}
