//! Social flows are bound to the browser that started them (contract §6 "Social
//! sign-in (start)"), social starts draw from the per-IP quota (§4), and provider
//! claims pass the name and picture rules (§6 "Social sign-in (claims)").

use serde_json::json;

use crate::helpers::*;
use crate::social::*;

fn oauth_state_set_cookie(r: &Reply) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("oauth_state="))
        .unwrap_or_else(|| panic!("no oauth_state cookie: {:?}", r.headers))
        .to_string()
}

fn assert_binding_cookie(r: &Reply, door: &str) {
    let c = oauth_state_set_cookie(r);
    let value = binding_of(r);
    assert!(value.len() >= 43, "{door}: a long random value: {c}");
    assert_eq!(
        c,
        format!("oauth_state={value}; HttpOnly; Path=/auth/callback; Max-Age=600; SameSite=Lax"),
        "{door}"
    );
}

#[tokio::test]
async fn every_start_sets_a_fresh_binding_cookie_through_both_doors() {
    let app = social_app(&[]).await;
    let post = app
        .post("/auth/sign-in/social", json!({"provider": "test"}), None)
        .await;
    assert_binding_cookie(&post, "POST sign-in/social");
    let get = app.get("/auth/sign-in/social/test", None).await;
    assert_eq!(get.status, 302);
    assert_binding_cookie(&get, "GET sign-in/social/:provider");
    assert_ne!(binding_of(&post), binding_of(&get), "fresh per start");
    let gql = app
        .gql(
            "mutation { socialSignIn(input: {provider: \"test\"}) { url } }",
            json!({}),
            None,
        )
        .await;
    assert_binding_cookie(&gql, "socialSignIn");

    let token = app.verified_user("binder@example.com").await;
    let link = app
        .post(
            "/auth/link-social",
            json!({"provider": "test"}),
            Some(&token),
        )
        .await;
    assert_binding_cookie(&link, "POST link-social");
    let glink = app
        .gql(
            "mutation { linkSocial(input: {provider: \"test\"}) { url } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_binding_cookie(&glink, "linkSocial");
}

#[tokio::test]
async fn the_cookie_follows_secure_and_samesite_none() {
    let app = social_app(&["--cookie-secure", "true", "--cookie-samesite", "None"]).await;
    let r = app
        .post("/auth/sign-in/social", json!({"provider": "test"}), None)
        .await;
    let c = oauth_state_set_cookie(&r);
    assert!(c.ends_with("; SameSite=None; Secure"), "{c}");
}

#[tokio::test]
async fn a_sign_in_pushed_into_another_browser_is_refused_and_consumes_nothing() {
    // Login CSRF: the attacker starts a flow, logs in at the provider as themselves
    // and sends the callback URL to a victim.
    let app = social_app(&[]).await;
    let attacker = login_callback(&app, &login("sub-attacker", "attacker@example.com", true)).await;
    let path = path_of(&attacker.url);

    // The victim's browser has no oauth_state cookie, or one of its own flow.
    let bare = callback_at(&app, &path, None).await;
    assert_eq!(bare.status, 400, "{}", bare.text);
    assert_eq!(bare.body["reason"], "INVALID_STATE");
    assert!(bare.session_cookie().is_none());
    let victims_own = app
        .post("/auth/sign-in/social", json!({"provider": "test"}), None)
        .await;
    let other = callback_at(&app, &path, Some(&binding_of(&victims_own))).await;
    assert_eq!(other.body["reason"], "INVALID_STATE");
    assert!(other.session_cookie().is_none());
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM users WHERE email = 'attacker@example.com'")
            .await,
        0,
        "nothing happened"
    );

    // Nothing was consumed: the browser that started the flow still finishes it, and
    // the binding cookie is cleared.
    let ok = callback(&app, &attacker).await;
    assert_eq!(ok.status, 302, "{}", ok.text);
    assert!(ok.session_cookie().is_some());
    assert!(
        oauth_state_set_cookie(&ok)
            .starts_with("oauth_state=; HttpOnly; Path=/auth/callback; Max-Age=0"),
        "{:?}",
        ok.headers
    );
}

#[tokio::test]
async fn a_link_flow_finished_by_someone_else_links_nothing() {
    // Link CSRF: the attacker starts link-social and sends the provider URL to a
    // victim, who logs in at the provider; the victim's browser lacks the binding.
    let app = social_app(&[]).await;
    let attacker = app.verified_user("linker-attacker@example.com").await;
    let start = app
        .post(
            "/auth/link-social",
            json!({"provider": "test", "errorCallbackURL": "/err"}),
            Some(&attacker),
        )
        .await;
    let victim_cb = drive(
        start.body["url"].as_str().unwrap(),
        &login("sub-victim-link", "victim@example.com", true),
    )
    .await;
    let r = callback_at(&app, &path_of(&victim_cb), None).await;
    assert_eq!(
        r.status, 400,
        "no state is read, so no error redirect: {}",
        r.text
    );
    assert_eq!(r.body["reason"], "INVALID_STATE");
    let linked = app.get("/auth/linked-accounts", Some(&attacker)).await;
    assert_eq!(
        linked.body["accounts"].as_array().unwrap().len(),
        1,
        "only the attacker's password: {}",
        linked.text
    );
    // The victim's own sign-in with that identity is theirs.
    let own = sign_in_social(&app, &login("sub-victim-link", "victim@example.com", true)).await;
    assert_eq!(own.status, 302, "{}", own.text);
    assert_ne!(
        app.user_id(&own.token()).await,
        app.user_id(&attacker).await
    );
}

#[tokio::test]
async fn social_starts_draw_from_the_per_ip_quota_through_both_doors() {
    let app = social_app(&["--rate-limit-per-sec", "1", "--rate-limit-burst", "2"]).await;
    let a = app
        .post("/auth/sign-in/social", json!({"provider": "test"}), None)
        .await;
    assert_eq!(a.status, 200);
    let b = app.get("/auth/sign-in/social/test", None).await;
    assert_eq!(b.status, 302);
    let c = app
        .gql(
            "mutation { socialSignIn(input: {provider: \"test\"}) { url } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(c.gql_ext()["code"], "RATE_LIMITED", "{}", c.text);
    let d = app.get("/auth/sign-in/social/test", None).await;
    assert_eq!(d.status, 429);
    assert!(d.header("retry-after").is_some());
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM oauth_states").await,
        2,
        "a refused start stores no state"
    );
}

#[tokio::test]
async fn provider_names_and_pictures_pass_latchs_rules() {
    let app = social_app(&[]).await;
    let mut who = login("sub-claims", "claims@example.com", false);
    who.name = "Ada\r\n\r\nCall support at 555 0100 \u{202E}\u{2028}now";
    who.claims = Some(r#"{"picture":"javascript:alert(document.domain)"}"#);
    // Unverified: a verification email names the person; no line of it is forged.
    let r = sign_in_social(&app, &who).await;
    assert_eq!(r.body["reason"], "EMAIL_NOT_VERIFIED", "{}", r.text);
    app.wait_link("claims@example.com", "verify-email", 1).await;
    let (_, text, _) = app.emails_to("claims@example.com").remove(0);
    assert!(
        !text.lines().any(|l| l.trim().starts_with("Call support")),
        "{text}"
    );
    assert!(
        text.contains("Hi AdaCall support at 555 0100 now,"),
        "{text}"
    );

    // Verified now: the user carries the cleaned name and no image.
    who.verified = "true";
    let ok = sign_in_social(&app, &who).await;
    assert_eq!(ok.status, 302, "{}", ok.text);
    let me = app.get("/auth/me", Some(&ok.token())).await;
    assert_eq!(me.body["user"]["name"], "AdaCall support at 555 0100 now");
    assert_eq!(me.body["user"]["image"], serde_json::Value::Null);

    let mut pic = login("sub-pic", "pic@example.com", true);
    pic.claims = Some(r#"{"picture":"https://cdn.example.com/a.png"}"#);
    let ok = sign_in_social(&app, &pic).await;
    let me = app.get("/auth/me", Some(&ok.token())).await;
    assert_eq!(me.body["user"]["image"], "https://cdn.example.com/a.png");
}
