//! Social sign-in against a real OpenID provider on loopback (npm `oidc-provider`, in
//! `tests/idp/`, installed by `scripts/test` and `.ci/run`). Without node and the
//! provider's packages these tests fail; they never skip.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// latch's public URL in these tests: the provider knows its callback URLs.
pub(crate) const PUBLIC: &str = "http://127.0.0.1:18080";
const IDP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/idp");

pub(crate) struct Idp {
    pub(crate) issuer: String,
    _child: Child,
}

/// Starts the provider on `port`. It runs under `sh`, which stops it when the returned
/// child's stdin closes (dropping the child, or this process ending).
fn start_idp(port: u16) -> Child {
    assert!(
        std::path::Path::new(IDP_DIR)
            .join("node_modules/oidc-provider")
            .exists(),
        "the test OpenID provider is not installed: run `npm ci --prefix tests/idp` (scripts/test does)"
    );
    let redirects = ["test", "other"]
        .map(|p| format!("{PUBLIC}/auth/callback/{p}"))
        .join(",");
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("node idp-server.mjs \"$0\" >/dev/null 2>&1 & pid=$!; echo started; read _; kill $pid")
        .arg(port.to_string())
        .current_dir(IDP_DIR)
        .env("IDP_REDIRECT_URIS", redirects)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is needed for the social sign-in tests");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    for _ in 0..200 {
        let discovery = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)",
            ])
            .arg(format!(
                "http://127.0.0.1:{port}/.well-known/openid-configuration"
            ))
            .stderr(Stdio::null())
            .status();
        if discovery.is_ok_and(|s| s.success()) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the test OpenID provider did not start on port {port}");
}

/// Stops a provider started by [`start_idp`] and waits until its port is free.
fn stop_idp(mut child: Child, port: u16) {
    drop(child.stdin.take());
    let _ = child.wait();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the test OpenID provider on port {port} did not stop");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One provider for the whole test binary.
pub(crate) fn idp() -> &'static Idp {
    static IDP: OnceLock<Idp> = OnceLock::new();
    IDP.get_or_init(|| {
        let port = free_port();
        Idp {
            issuer: format!("http://127.0.0.1:{port}"),
            _child: start_idp(port),
        }
    })
}

pub(crate) fn oidc_vars(issuer: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for name in ["TEST", "OTHER"] {
        v.push((format!("LATCH_OIDC_{name}_ISSUER"), issuer.to_string()));
        v.push((format!("LATCH_OIDC_{name}_CLIENT_ID"), "dashboard".into()));
        v.push((
            format!("LATCH_OIDC_{name}_CLIENT_SECRET"),
            "dashboard-secret".into(),
        ));
    }
    v
}

pub(crate) async fn social_app(extra: &[&str]) -> TestApp {
    let issuer = idp().issuer.clone();
    let mut args = vec!["--public-url", PUBLIC];
    args.extend_from_slice(extra);
    spawn_app_with_oidc(&args, oidc_vars(&issuer)).await
}

/// Who logs in at the provider.
pub(crate) struct Login<'a> {
    sub: &'a str,
    email: &'a str,
    pub(crate) verified: &'a str,
    pub(crate) deny: bool,
    /// The `name` claim, and extra claims as a JSON object.
    pub(crate) name: &'a str,
    pub(crate) claims: Option<&'a str>,
}

pub(crate) fn login<'a>(sub: &'a str, email: &'a str, verified: bool) -> Login<'a> {
    Login {
        sub,
        email,
        verified: if verified { "true" } else { "false" },
        deny: false,
        name: "Social User",
        claims: None,
    }
}

/// Completes the provider's login page; returns the callback URL it redirects to.
pub(crate) async fn drive(authorize_url: &str, who: &Login<'_>) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(format!("{IDP_DIR}/drive_login.py"))
        .arg(authorize_url)
        .args(["--sub", who.sub, "--email", who.email])
        .args(["--email-verified", who.verified, "--name", who.name]);
    if let Some(claims) = who.claims {
        cmd.args(["--claims-json", claims]);
    }
    if who.deny {
        cmd.arg("--deny");
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("python3"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "drive_login failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A finished login at the provider: the callback URL it sends the browser to, and the
/// `oauth_state` cookie that the browser which started the flow holds.
pub(crate) struct Cb {
    pub(crate) url: String,
    pub(crate) binding: String,
}

/// The `oauth_state` cookie a start set.
pub(crate) fn binding_of(r: &Reply) -> String {
    let c = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("oauth_state="))
        .unwrap_or_else(|| panic!("no oauth_state cookie: {:?}", r.headers));
    c["oauth_state=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Logs in at the provider from the authorization URL a start (`r`) answered.
pub(crate) async fn login_from(r: &Reply, url: &str, who: &Login<'_>) -> Cb {
    Cb {
        url: drive(url, who).await,
        binding: binding_of(r),
    }
}

/// Starts a flow over REST with `body`, logs in at the provider.
pub(crate) async fn start_and_login(
    app: &TestApp,
    path: &str,
    body: Value,
    token: Option<&str>,
    who: &Login<'_>,
) -> Cb {
    let r = app.post(path, body, token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    login_from(&r, r.body["url"].as_str().unwrap(), who).await
}

/// Sends the callback to latch from the browser that started the flow.
pub(crate) async fn callback(app: &TestApp, cb: &Cb) -> Reply {
    callback_at(app, &path_of(&cb.url), Some(&cb.binding)).await
}

/// Sends a callback path with the given `oauth_state` cookie, or none.
pub(crate) async fn callback_at(app: &TestApp, path: &str, binding: Option<&str>) -> Reply {
    let mut req = app.client.get(app.url(path));
    if let Some(b) = binding {
        req = req.header("cookie", format!("oauth_state={b}"));
    }
    app.send(req).await
}

/// Starts a plain social sign-in with `test` and logs in.
pub(crate) async fn login_callback(app: &TestApp, who: &Login<'_>) -> Cb {
    start_and_login(
        app,
        "/auth/sign-in/social",
        json!({"provider": "test"}),
        None,
        who,
    )
    .await
}

pub(crate) async fn sign_in_social(app: &TestApp, who: &Login<'_>) -> Reply {
    let cb = login_callback(app, who).await;
    callback(app, &cb).await
}

#[tokio::test]
async fn a_new_verified_identity_creates_a_finalized_user_and_signs_in() {
    let app = social_app(&[]).await;
    let r = sign_in_social(&app, &login("sub-new", "new@example.com", true)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let home = format!("{PUBLIC}/");
    assert_eq!(
        r.header("location"),
        Some(home.as_str()),
        "default: the app URL"
    );
    let token = r.token();
    let me = app.get("/auth/me", Some(&token)).await;
    assert_eq!(me.body["user"]["email"], "new@example.com");
    assert_eq!(me.body["user"]["emailVerified"], true);
    assert_eq!(me.body["user"]["name"], "Social User");
    assert_eq!(me.body["workspaces"][0]["role"], "owner");
    let linked = app.get("/auth/linked-accounts", Some(&token)).await;
    assert_eq!(
        linked.body["accounts"],
        json!([{"provider": "test", "accountId": "sub-new", "createdAt": linked.body["accounts"][0]["createdAt"]}])
    );
    // The same identity signs in again: a known subject.
    let again = sign_in_social(&app, &login("sub-new", "new@example.com", true)).await;
    assert_eq!(again.status, 302);
    assert_ne!(again.token(), token, "a new session per sign-in");
}

#[tokio::test]
async fn authorization_urls_use_pkce_state_and_nonce_through_both_doors() {
    let app = social_app(&[]).await;
    let r = app
        .post("/auth/sign-in/social", json!({"provider": "test"}), None)
        .await;
    let url = r.body["url"].as_str().unwrap();
    assert!(url.starts_with(&idp().issuer), "{url}");
    for p in [
        "code_challenge_method",
        "code_challenge",
        "state",
        "nonce",
        "redirect_uri",
    ] {
        assert!(query_param(url, p).is_some(), "{p} in {url}");
    }
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query_param(url, "redirect_uri").as_deref(),
        Some(format!("{PUBLIC}/auth/callback/test").as_str())
    );
    let get = app
        .get("/auth/sign-in/social/test?callbackURL=/home", None)
        .await;
    assert_eq!(get.status, 302);
    assert!(get.header("location").unwrap().starts_with(&idp().issuer));

    let g = app
        .gql(
            "mutation { socialSignIn(input: {provider: \"test\", callbackURL: \"/welcome\"}) { url } }",
            json!({}),
            None,
        )
        .await;
    let gurl = g.body["data"]["socialSignIn"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let cb = login_from(&g, &gurl, &login("sub-gql", "gql@example.com", true)).await;
    let r = callback(&app, &cb).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/welcome").as_str())
    );
    assert!(r.session_cookie().is_some());
}

#[tokio::test]
async fn unknown_providers_and_foreign_callbacks_are_refused() {
    let app = social_app(&[]).await;
    let r = app
        .post("/auth/sign-in/social", json!({"provider": "nope"}), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "NOT_FOUND");
    assert_eq!(app.get("/auth/sign-in/social/nope", None).await.status, 404);
    assert_eq!(
        app.get("/auth/callback/nope?state=x&code=y", None)
            .await
            .status,
        404
    );
    let g = app
        .gql(
            "mutation { socialSignIn(input: {provider: \"nope\"}) { url } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "NOT_FOUND");
    let r = app
        .post(
            "/auth/sign-in/social",
            json!({"provider": "test", "callbackURL": "https://evil.test/"}),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["reason"], "INVALID_REDIRECT");
}

#[tokio::test]
async fn a_new_unverified_identity_gets_a_verification_email_and_no_session() {
    let app = social_app(&[]).await;
    let r = sign_in_social(&app, &login("sub-unv", "unv@example.com", false)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["reason"], "EMAIL_NOT_VERIFIED");
    assert!(r.session_cookie().is_none());
    let link = app.wait_link("unv@example.com", "verify-email", 1).await;
    let v = app.get(&path_of(&link), None).await;
    assert_eq!(
        v.status, 302,
        "the link carries the flow's callback: {}",
        v.text
    );
    // Verified now: the known subject signs in.
    let again = sign_in_social(&app, &login("sub-unv", "unv@example.com", false)).await;
    assert_eq!(again.status, 302, "{}", again.text);
}

#[tokio::test]
async fn a_known_unverified_user_is_verified_when_the_provider_now_asserts_the_email() {
    let app = social_app(&[]).await;
    let first = sign_in_social(&app, &login("sub-later", "later@example.com", false)).await;
    assert_eq!(first.status, 403);
    let second = sign_in_social(&app, &login("sub-later", "later@example.com", false)).await;
    assert_eq!(second.body["reason"], "EMAIL_NOT_VERIFIED");
    let third = sign_in_social(&app, &login("sub-later", "later@example.com", true)).await;
    assert_eq!(third.status, 302, "{}", third.text);
    let me = app.get("/auth/me", Some(&third.token())).await;
    assert_eq!(me.body["user"]["emailVerified"], true);
    assert_eq!(me.body["workspaces"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_existing_account_is_linked_only_on_a_verified_email_and_both_methods_work() {
    let app = social_app(&[]).await;
    app.verified_user("both@example.com").await;

    let r = app
        .post(
            "/auth/sign-in/social",
            json!({"provider": "test", "errorCallbackURL": "/oops"}),
            None,
        )
        .await;
    let cb = login_from(
        &r,
        r.body["url"].as_str().unwrap(),
        &login("sub-both", "both@example.com", false),
    )
    .await;
    let refused = callback(&app, &cb).await;
    assert_eq!(refused.status, 302);
    assert_eq!(
        refused.header("location"),
        Some(format!("{PUBLIC}/oops?error=ACCOUNT_NOT_LINKED").as_str())
    );
    let refused = sign_in_social(&app, &login("sub-both", "both@example.com", false)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["reason"], "ACCOUNT_NOT_LINKED");

    let linked = sign_in_social(&app, &login("sub-both", "both@example.com", true)).await;
    assert_eq!(linked.status, 302, "{}", linked.text);
    // Coexistence: the password and the provider both sign in to the same user.
    let by_password = app.sign_in("both@example.com", PASSWORD).await;
    assert_eq!(by_password.status, 200);
    assert_eq!(
        app.user_id(&linked.token()).await,
        app.user_id(&by_password.token()).await
    );
    let list = app
        .gql(
            "{ linkedAccounts { provider accountId } }",
            json!({}),
            Some(&linked.token()),
        )
        .await;
    let providers: Vec<&str> = list.body["data"]["linkedAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["credential", "test"]);
}

#[tokio::test]
async fn a_verified_social_sign_in_defeats_account_pre_hijacking() {
    let app = social_app(&[]).await;
    // The attacker signs up with the victim's email and never verifies.
    app.sign_up("victim@example.com", OTHER_PASSWORD, "Attacker")
        .await;
    let attacker_link = app.wait_link("victim@example.com", "verify-email", 1).await;
    // The victim signs in with the provider, which asserts the email.
    let r = sign_in_social(&app, &login("sub-victim", "victim@example.com", true)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    // The attacker's password and link are gone.
    assert_eq!(
        app.sign_in("victim@example.com", OTHER_PASSWORD)
            .await
            .status,
        401
    );
    let link = app.get(&path_of(&attacker_link), None).await;
    assert_eq!(link.status, 400);
    assert_eq!(link.body["code"], "INVALID_TOKEN");
    let linked = app.get("/auth/linked-accounts", Some(&r.token())).await;
    assert_eq!(
        linked.body["accounts"].as_array().unwrap().len(),
        1,
        "{}",
        linked.text
    );
    assert_eq!(linked.body["accounts"][0]["provider"], "test");
}

#[tokio::test]
async fn link_flows_link_to_the_session_user_through_both_doors() {
    let app = social_app(&[]).await;
    let token = app.verified_user("linker@example.com").await;
    let cb = start_and_login(
        &app,
        "/auth/link-social",
        json!({"provider": "test", "callbackURL": "/settings"}),
        Some(&token),
        &login("sub-link", "someone-else@example.com", false),
    )
    .await;
    let r = callback(&app, &cb).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/settings").as_str())
    );
    assert!(
        r.session_cookie().is_none(),
        "a link keeps the current session"
    );
    let list = app.get("/auth/linked-accounts", Some(&token)).await;
    assert_eq!(list.body["accounts"][1]["accountId"], "sub-link");
    // The linked identity now signs in to this user.
    let social = sign_in_social(&app, &login("sub-link", "someone-else@example.com", false)).await;
    assert_eq!(social.status, 302, "{}", social.text);
    assert_eq!(
        app.user_id(&social.token()).await,
        app.user_id(&token).await
    );

    // Linking again the same subject to the same user is a success.
    let g = app
        .gql(
            "mutation { linkSocial(input: {provider: \"test\", errorCallbackURL: \"/err\"}) { url } }",
            json!({}),
            Some(&token),
        )
        .await;
    let url = g.body["data"]["linkSocial"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let cb = login_from(&g, &url, &login("sub-link", "x@example.com", true)).await;
    assert_eq!(callback(&app, &cb).await.status, 302);

    // A subject linked to someone else is 409, or error=ACCOUNT_ALREADY_LINKED.
    let other = app.verified_user("other@example.com").await;
    let cb = start_and_login(
        &app,
        "/auth/link-social",
        json!({"provider": "test", "errorCallbackURL": "/err"}),
        Some(&other),
        &login("sub-link", "x@example.com", true),
    )
    .await;
    let r = callback(&app, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/err?error=ACCOUNT_ALREADY_LINKED").as_str())
    );
    let cb = start_and_login(
        &app,
        "/auth/link-social",
        json!({"provider": "test"}),
        Some(&other),
        &login("sub-link", "x@example.com", true),
    )
    .await;
    let r = callback(&app, &cb).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["reason"], "ACCOUNT_ALREADY_LINKED");

    let unauth = app
        .post("/auth/link-social", json!({"provider": "test"}), None)
        .await;
    assert_eq!(unauth.status, 401);
}

#[tokio::test]
async fn unlink_and_set_password_for_a_social_only_account() {
    let app = social_app(&[]).await;
    let r = sign_in_social(&app, &login("sub-solo", "solo@example.com", true)).await;
    let token = r.token();
    let last = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "test"}),
            Some(&token),
        )
        .await;
    assert_eq!(last.status, 403);
    assert_eq!(last.body["reason"], "LAST_LOGIN_METHOD");
    let set = app
        .post(
            "/auth/set-password",
            json!({"newPassword": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        app.sign_in("solo@example.com", OTHER_PASSWORD).await.status,
        200
    );
    let g = app
        .gql(
            "mutation { unlinkProvider(input: {provider: \"test\", accountId: \"sub-solo\"}) { status } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["data"]["unlinkProvider"]["status"], true,
        "{}",
        g.text
    );
    let list = app.get("/auth/linked-accounts", Some(&token)).await;
    assert_eq!(list.body["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["accounts"][0]["provider"], "credential");
}

#[tokio::test]
async fn denied_consent_is_a_provider_error() {
    let app = social_app(&[]).await;
    let mut who = login("sub-deny", "deny@example.com", true);
    who.deny = true;
    let r = app
        .post(
            "/auth/sign-in/social",
            json!({"provider": "test", "errorCallbackURL": "/signin"}),
            None,
        )
        .await;
    let cb = login_from(&r, r.body["url"].as_str().unwrap(), &who).await;
    assert_eq!(
        query_param(&cb.url, "error").as_deref(),
        Some("access_denied")
    );
    let r = callback(&app, &cb).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("{PUBLIC}/signin?error=PROVIDER_ERROR").as_str())
    );
    let cb = login_callback(&app, &who).await;
    let r = callback(&app, &cb).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["reason"], "PROVIDER_ERROR");
}

#[tokio::test]
async fn states_are_single_use_short_lived_bound_and_tamper_evident() {
    let app = social_app(&[]).await;
    let who = login("sub-state", "state@example.com", true);

    // Replay.
    let cb = login_callback(&app, &who).await;
    assert_eq!(callback(&app, &cb).await.status, 302);
    let replay = callback(&app, &cb).await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.body["reason"], "INVALID_STATE");

    // Another provider's callback, then tampering: neither consumes the real state.
    let cb = login_callback(&app, &who).await;
    let b = Some(cb.binding.as_str());
    let wrong = callback_at(
        &app,
        &path_of(&cb.url).replace("/callback/test", "/callback/other"),
        b,
    )
    .await;
    assert_eq!(wrong.body["reason"], "INVALID_STATE");
    let state = query_param(&cb.url, "state").unwrap();
    let tampered = path_of(&cb.url).replace(&state, &format!("{state}x"));
    assert_eq!(
        callback_at(&app, &tampered, b).await.body["reason"],
        "INVALID_STATE"
    );
    let missing = callback_at(&app, "/auth/callback/test?code=abc", b).await;
    assert_eq!(missing.body["reason"], "INVALID_STATE");
    assert_eq!(
        callback(&app, &cb).await.status,
        302,
        "the untouched state still works"
    );

    // Expiry.
    let cb = login_callback(&app, &who).await;
    app.sql("UPDATE oauth_states SET expires_at = 0", &[]).await;
    let expired = callback(&app, &cb).await;
    assert_eq!(expired.status, 400);
    assert_eq!(expired.body["reason"], "INVALID_STATE");

    // An `iss` that is not the provider's.
    let cb = login_callback(&app, &who).await;
    let iss = query_param(&cb.url, "iss").unwrap();
    let forged = path_of(&cb.url).replace(
        &url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>(),
        "http%3A%2F%2Fevil.test",
    );
    let r = callback_at(&app, &forged, Some(&cb.binding)).await;
    assert_eq!(r.body["reason"], "PROVIDER_ERROR", "{forged}");

    // A code that is not the provider's.
    let cb = login_callback(&app, &who).await;
    let code = query_param(&cb.url, "code").unwrap();
    let r = callback_at(
        &app,
        &path_of(&cb.url).replace(&code, "forged-code"),
        Some(&cb.binding),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["reason"], "PROVIDER_ERROR");
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_when_an_unknown_key_id_appears() {
    // A provider of its own: it is restarted with a new RSA key mid-test.
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let first = tokio::task::spawn_blocking(move || start_idp(port))
        .await
        .unwrap();
    let app = spawn_app_with_oidc(&["--public-url", PUBLIC], oidc_vars(&issuer)).await;
    let who = login("sub-rotate", "rotate@example.com", true);
    assert_eq!(sign_in_social(&app, &who).await.status, 302);

    let second = tokio::task::spawn_blocking(move || {
        stop_idp(first, port);
        start_idp(port)
    })
    .await
    .unwrap();
    let r = sign_in_social(&app, &who).await;
    assert_eq!(r.status, 302, "the new key was fetched: {}", r.text);
    assert!(r.session_cookie().is_some());
    tokio::task::spawn_blocking(move || stop_idp(second, port))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_provider_that_cannot_be_discovered_does_not_stop_the_others() {
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut vars = oidc_vars(&idp().issuer);
    vars.retain(|(k, _)| k.starts_with("LATCH_OIDC_TEST_"));
    vars.push(("LATCH_OIDC_DOWN_ISSUER".into(), down));
    vars.push(("LATCH_OIDC_DOWN_CLIENT_ID".into(), "dashboard".into()));
    let app = spawn_app_with_oidc(&["--public-url", PUBLIC], vars).await;
    assert_eq!(app.get("/healthz", None).await.status, 200);
    let r = app
        .post("/auth/sign-in/social", json!({"provider": "down"}), None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["reason"], "PROVIDER_ERROR");
    let ok = sign_in_social(&app, &login("sub-up", "up@example.com", true)).await;
    assert_eq!(ok.status, 302, "{}", ok.text);
}
