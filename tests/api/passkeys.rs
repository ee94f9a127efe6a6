//! Passkeys (docs/api.md §10): the options latch sends, registration and sign-in
//! through both doors, list, rename, delete, and passkeys off on an IP address. The
//! refusals are in `passkey_rules`.

use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app, spawn_app_with};
use crate::passkey_device::{PasskeyDevice, Tweaks, unb64};

pub const ORIGIN: &str = "https://app.example.test";
pub const RP_ID: &str = "app.example.test";

/// A latch with passkeys on (`ORIGIN` is its app URL, so the RP ID is `RP_ID`).
pub async fn passkey_app(extra: &[&str]) -> TestApp {
    let mut args = vec!["--app-url", ORIGIN];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// Tweaks with one thing broken (`f` says which).
pub fn tweak(f: impl FnOnce(&mut Tweaks)) -> Tweaks {
    let mut t = Tweaks::default();
    f(&mut t);
    t
}

pub fn device() -> PasskeyDevice {
    PasskeyDevice::new(ORIGIN, RP_ID)
}

/// generate-register-options for the session: (ceremony id, options).
pub async fn register_options(app: &TestApp, token: &str) -> (String, Value) {
    let r = app
        .post(
            "/auth/passkey/generate-register-options",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    ceremony(&r)
}

pub fn ceremony(r: &Reply) -> (String, Value) {
    (
        r.body["ceremonyId"].as_str().unwrap().to_string(),
        r.body["options"].clone(),
    )
}

pub async fn verify_registration(
    app: &TestApp,
    token: &str,
    ceremony_id: &str,
    credential: Value,
) -> Reply {
    app.post(
        "/auth/passkey/verify-registration",
        json!({"ceremonyId": ceremony_id, "credential": credential}),
        Some(token),
    )
    .await
}

/// Registers a passkey of `device` for the session; its latch id.
/// A verified user with a passkey on a device of its own: the session token, the
/// device and the passkey's id.
pub async fn user_with_passkey(app: &TestApp, email: &str) -> (String, PasskeyDevice, String) {
    let token = app.verified_user(email).await;
    let mut d = device();
    let id = add_passkey(app, &token, &mut d).await;
    (token, d, id)
}

/// `delete-passkey` of `id` with the session `token`.
pub async fn delete_passkey(app: &TestApp, id: &str, token: &str) -> Reply {
    app.post(
        "/auth/passkey/delete-passkey",
        json!({"id": id}),
        Some(token),
    )
    .await
}

pub async fn add_passkey(app: &TestApp, token: &str, device: &mut PasskeyDevice) -> String {
    let (id, options) = register_options(app, token).await;
    let credential = device.register(&options);
    let r = verify_registration(app, token, &id, credential).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["passkey"]["id"].as_str().unwrap().to_string()
}

/// generate-authenticate-options (no body): (ceremony id, options).
pub async fn sign_in_options(app: &TestApp) -> (String, Value) {
    let r = app
        .client
        .post(app.url("/auth/passkey/generate-authenticate-options"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    (
        body["ceremonyId"].as_str().unwrap().to_string(),
        body["options"].clone(),
    )
}

pub async fn sign_in_with(app: &TestApp, ceremony_id: &str, credential: Value) -> Reply {
    app.post(
        "/auth/sign-in/passkey",
        json!({"ceremonyId": ceremony_id, "credential": credential}),
        None,
    )
    .await
}

/// A whole passkey sign-in through REST with the device's newest passkey.
pub async fn passkey_sign_in(app: &TestApp, device: &mut PasskeyDevice) -> Reply {
    let (id, options) = sign_in_options(app).await;
    let credential = device.assert(&options);
    sign_in_with(app, &id, credential).await
}

#[tokio::test]
async fn registration_options_ask_for_a_discoverable_verified_credential() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("opts@example.com").await;
    let (_, o) = register_options(&app, &token).await;
    assert_eq!(o["rp"], json!({"id": RP_ID, "name": "latch"}));
    assert_eq!(o["user"]["name"], "opts@example.com");
    assert_eq!(o["user"]["displayName"], "Test User");
    let handle = unb64(o["user"]["id"].as_str().unwrap());
    assert_eq!(handle.len(), 16);
    assert_eq!(unb64(o["challenge"].as_str().unwrap()).len(), 32);
    let algs: Vec<i64> = o["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "public-key");
            p["alg"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(algs, [-7, -35, -257], "ES256, ES384, RS256");
    assert_eq!(
        o["authenticatorSelection"],
        json!({"residentKey": "required", "requireResidentKey": true, "userVerification": "required"})
    );
    assert_eq!(o["attestation"], "none");
    assert_eq!(o["timeout"], 300_000);
    // credProps, and credProtect (whose inputs are these two members); no others.
    assert_eq!(
        o["extensions"],
        json!({
            "credProps": true,
            "credentialProtectionPolicy": "userVerificationRequired",
            "enforceCredentialProtectionPolicy": false
        })
    );
    assert_eq!(o["excludeCredentials"], json!([]));

    // The handle is random, kept for the user, and names no account.
    let user_id = app.get("/auth/session", Some(&token)).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!String::from_utf8_lossy(&handle).contains("opts"));
    assert_ne!(uuid_bytes(&user_id), handle);
    let mut d = device();
    add_passkey(&app, &token, &mut d).await;
    let (_, again) = register_options(&app, &token).await;
    assert_eq!(unb64(again["user"]["id"].as_str().unwrap()), handle);
    assert_ne!(again["challenge"], o["challenge"]);
    let excluded = again["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1);
    assert_eq!(
        unb64(excluded[0]["id"].as_str().unwrap()),
        d.credentials()[0].id
    );

    // Another user gets another handle.
    let other = app.verified_user("opts2@example.com").await;
    let (_, theirs) = register_options(&app, &other).await;
    assert_ne!(unb64(theirs["user"]["id"].as_str().unwrap()), handle);
}

fn uuid_bytes(id: &str) -> Vec<u8> {
    hex::decode(id.replace('-', "")).unwrap()
}

#[tokio::test]
async fn sign_in_options_name_no_credential_and_require_verification() {
    let app = passkey_app(&[]).await;
    let (id, o) = sign_in_options(&app).await;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "allowCredentials",
            "challenge",
            "rpId",
            "timeout",
            "userVerification"
        ]
    );
    assert_eq!(o["allowCredentials"], json!([]));
    assert_eq!(o["rpId"], RP_ID);
    assert_eq!(o["userVerification"], "required");
    assert_eq!(o["timeout"], 300_000);
    assert_eq!(unb64(o["challenge"].as_str().unwrap()).len(), 32);
    // GraphQL: no argument; the same shape.
    let g = app
        .gql(
            "mutation { generatePasskeyAuthenticationOptions { ceremonyId options expiresAt } }",
            json!({}),
            None,
        )
        .await;
    let o = &g.body["data"]["generatePasskeyAuthenticationOptions"]["options"];
    assert_eq!(o["rpId"], RP_ID, "{}", g.text);
    assert_eq!(o["userVerification"], "required");
}

#[tokio::test]
async fn a_passkey_registers_and_signs_in_through_rest() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("rest@example.com").await;
    let mut d = device();
    let (cid, options) = register_options(&app, &token).await;
    let r = app
        .post(
            "/auth/passkey/verify-registration",
            json!({"ceremonyId": cid, "credential": d.register(&options), "name": "  Laptop  "}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &r.body["passkey"];
    assert_eq!(p["name"], "Laptop");
    assert_eq!(p["lastUsedAt"], Value::Null);
    assert_eq!(p["backedUp"], false);
    let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["backedUp", "createdAt", "id", "lastUsedAt", "name"]);
    app.wait_notice("rest@example.com", "passkey-added").await;

    let s = passkey_sign_in(&app, &mut d).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["twoFactorRequired"], false);
    assert_eq!(s.body["session"]["authMethods"], json!(["passkey"]));
    assert_eq!(s.body["user"]["email"], "rest@example.com");
    let new_token = s.token();
    assert_eq!(s.body["token"], new_token.as_str());
    let me = app.get("/auth/session", Some(&new_token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["session"]["authMethods"], json!(["passkey"]));

    let list = app
        .get("/auth/passkey/list-user-passkeys", Some(&new_token))
        .await;
    let listed = &list.body["passkeys"][0];
    assert_eq!(listed["id"], p["id"]);
    assert!(listed["lastUsedAt"].is_string(), "{}", list.text);
    assert_eq!(
        app.sql_count("SELECT sign_count AS n FROM passkeys").await,
        1,
        "the count the assertion reported"
    );
}

#[tokio::test]
async fn a_passkey_registers_and_signs_in_through_graphql() {
    let app = passkey_app(&[]).await;
    let token = app.verified_user("gql@example.com").await;
    let mut d = PasskeyDevice::new_synced(ORIGIN, RP_ID);
    let g = app
        .gql(
            "mutation { generatePasskeyRegistrationOptions { ceremonyId options expiresAt } }",
            json!({}),
            Some(&token),
        )
        .await;
    let started = &g.body["data"]["generatePasskeyRegistrationOptions"];
    let credential = d.register(&started["options"]);
    let v = app
        .gql(
            "mutation($i: VerifyPasskeyRegistrationInput!) { verifyPasskeyRegistration(input: $i) { passkey { id name backedUp lastUsedAt } } }",
            json!({"i": {"ceremonyId": started["ceremonyId"], "credential": credential, "name": "Phone"}}),
            Some(&token),
        )
        .await;
    let p = &v.body["data"]["verifyPasskeyRegistration"]["passkey"];
    assert_eq!(p["name"], "Phone", "{}", v.text);
    assert_eq!(p["backedUp"], true, "a synced passkey is backed up");

    let o = app
        .gql(
            "mutation { generatePasskeyAuthenticationOptions { ceremonyId options } }",
            json!({}),
            None,
        )
        .await;
    let o = &o.body["data"]["generatePasskeyAuthenticationOptions"];
    // A synced passkey's count stays 0: accepted each time.
    for _ in 0..2 {
        let (cid, options) = sign_in_options(&app).await;
        let r = sign_in_with(&app, &cid, d.assert(&options)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let s = app
        .gql(
            "mutation($i: SignInPasskeyInput!) { signInPasskey(input: $i) { token twoFactorRequired twoFactor { ticket } session { authMethods } user { email } } }",
            json!({"i": {"ceremonyId": o["ceremonyId"], "credential": d.assert(&o["options"]), "rememberMe": false}}),
            None,
        )
        .await;
    let signed = &s.body["data"]["signInPasskey"];
    assert_eq!(signed["twoFactorRequired"], false, "{}", s.text);
    assert_eq!(signed["twoFactor"], Value::Null);
    assert_eq!(signed["session"]["authMethods"], json!(["passkey"]));
    let cookie = s.set_cookie("session_token").unwrap();
    assert!(!cookie.contains("Max-Age"), "rememberMe false: {cookie}");
    let new_token = signed["token"].as_str().unwrap();
    let list = app
        .gql(
            "{ passkeys { id name backedUp lastUsedAt createdAt } }",
            json!({}),
            Some(new_token),
        )
        .await;
    let listed = &list.body["data"]["passkeys"];
    assert_eq!(listed[0]["id"], p["id"], "{}", list.text);
    assert!(listed[0]["lastUsedAt"].is_string());
}

#[tokio::test]
async fn passkeys_are_listed_oldest_first_renamed_and_deleted() {
    let app = passkey_app(&[]).await;
    let (token, mut d, first) = user_with_passkey(&app, "list@example.com").await;
    let second = add_passkey(&app, &token, &mut d).await;
    let list = app
        .get("/auth/passkey/list-user-passkeys", Some(&token))
        .await;
    let ids: Vec<&str> = list.body["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);

    let r = app
        .post(
            "/auth/passkey/update-passkey",
            json!({"id": first, "name": " Work key "}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["passkey"]["name"], "Work key", "{}", r.text);
    for bad in ["", "   ", &"x".repeat(65), "tab\there"] {
        let r = app
            .post(
                "/auth/passkey/update-passkey",
                json!({"id": first, "name": bad}),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 422, "{bad:?}: {}", r.text);
        assert!(r.body["fields"]["name"].is_array());
    }
    let g = app
        .gql(
            "mutation($i: UpdatePasskeyInput!) { updatePasskey(input: $i) { passkey { name } } }",
            json!({"i": {"id": second, "name": &"y".repeat(64)}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["data"]["updatePasskey"]["passkey"]["name"],
        "y".repeat(64),
        "{}",
        g.text
    );

    // Another user's passkey is not found, for every route.
    let other = app.verified_user("list2@example.com").await;
    let r = app
        .post(
            "/auth/passkey/update-passkey",
            json!({"id": first, "name": "mine"}),
            Some(&other),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = delete_passkey(&app, &first, &other).await;
    assert_eq!(r.status, 404);

    let r = delete_passkey(&app, &first, &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"status": true}));
    app.wait_notice("list@example.com", "passkey-removed").await;
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 200);
    let g = app
        .gql(
            "mutation($i: DeletePasskeyInput!) { deletePasskey(input: $i) { status } }",
            json!({"i": {"id": second}}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["data"]["deletePasskey"]["status"], true,
        "{}",
        g.text
    );
    let list = app
        .get("/auth/passkey/list-user-passkeys", Some(&token))
        .await;
    assert_eq!(list.body["passkeys"], json!([]));
    // A deleted passkey no longer signs in.
    let s = passkey_sign_in(&app, &mut d).await;
    assert_eq!(s.status, 401);
}

#[tokio::test]
async fn passkeys_are_off_on_an_ip_address() {
    let app = spawn_app().await;
    let methods = app.get("/auth/sign-in-methods", None).await;
    assert_eq!(methods.body["passkey"], false);
    let token = app.verified_user("ip@example.com").await;
    for path in [
        "/auth/passkey/generate-register-options",
        "/auth/passkey/verify-registration",
        "/auth/passkey/generate-authenticate-options",
        "/auth/sign-in/passkey",
        "/auth/passkey/update-passkey",
        "/auth/passkey/delete-passkey",
    ] {
        let body = json!({"ceremonyId": "x", "credential": {}, "id": "x", "name": "n"});
        let r = app.post(path, body, Some(&token)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    let r = app
        .get("/auth/passkey/list-user-passkeys", Some(&token))
        .await;
    assert_eq!(r.status, 404);
    let g = app
        .gql("{ passkeys { id } }", json!({}), Some(&token))
        .await;
    assert_eq!(g.body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let on = passkey_app(&[]).await;
    let methods = on.get("/auth/sign-in-methods", None).await;
    assert_eq!(methods.body["passkey"], true);
}

#[tokio::test]
async fn passkey_ceremonies_draw_from_the_per_ip_quota() {
    let app = passkey_app(&["--rate-limit-per-sec", "1", "--rate-limit-burst", "2"]).await;
    let path = "/auth/passkey/generate-authenticate-options";
    for _ in 0..2 {
        assert_eq!(app.send(app.client.post(app.url(path))).await.status, 200);
    }
    let r = app
        .post(
            "/auth/sign-in/passkey",
            json!({"ceremonyId": "x", "credential": {}}),
            None,
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.headers.get("retry-after").is_some());
}
