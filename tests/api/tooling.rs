//! What GraphQL tooling and sign-in pages need (contract v4 §2, §4, §5): the standard
//! introspection queries, the limits over latch's own types, JSON-object bodies, and
//! sign-in discovery.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::*;

const INTROSPECTION_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/introspection");
const SDL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");

/// Runs one of the committed checkers (tests/introspection) against `app`.
async fn run_checker(app: &TestApp, program: &str, script: &str) -> String {
    let url = app.url("/graphql");
    let script = format!("{INTROSPECTION_DIR}/{script}");
    let program = program.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .args([&script, &url, SDL])
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn standard_introspection_queries_yield_the_committed_schema() {
    // graphql-js 16 and 17 (`getIntrospectionQuery`, with and without the spec's
    // options), GraphiQL 4's query, graphql-core 3.3's: each answer is built into a
    // client schema and compared with schema.graphql by the tools themselves.
    assert!(
        std::path::Path::new(INTROSPECTION_DIR)
            .join("node_modules/graphql16")
            .exists(),
        "run `npm ci --prefix tests/introspection` (scripts/test does)"
    );
    let app = spawn_app().await;
    let js = run_checker(&app, "node", "check.mjs").await;
    assert_eq!(
        js.lines().filter(|l| l.starts_with("ok ")).count(),
        5,
        "{js}"
    );
    let py = run_checker(&app, "python3", "check.py").await;
    assert_eq!(
        py.lines().filter(|l| l.starts_with("ok ")).count(),
        2,
        "{py}"
    );
}

fn refused(r: &Reply, message: &str) {
    assert_eq!(r.status, 200, "GraphQL over HTTP: {}", r.text);
    assert_eq!(r.body["data"], Value::Null, "nothing ran: {}", r.text);
    assert_eq!(r.body["errors"][0]["message"], message, "{}", r.text);
    assert_eq!(r.gql_ext()["code"], "BAD_REQUEST");
    assert_eq!(r.gql_ext()["status"], 400);
}

#[tokio::test]
async fn deep_or_costly_queries_over_latchs_types_are_refused_before_running() {
    let app = spawn_app().await;
    // Thirteen levels of latch's own fields (the document is refused before
    // validation, so whether the fields exist does not matter).
    let mut deep = String::from("{ me ");
    for _ in 0..12 {
        deep.push_str("{ user ");
    }
    deep.push_str(&"}".repeat(12));
    deep.push_str(" }");
    refused(
        &app.gql(&deep, json!({}), None).await,
        "Query is nested too deep.",
    );
    // 101 aliases of a four-field selection: complexity 404.
    let costly: String = (0..101)
        .map(|i| format!("s{i}: session {{ user {{ id email }} }} "))
        .collect();
    refused(
        &app.gql(&format!("{{ {costly} }}"), json!({}), None).await,
        "Query is too complex.",
    );
    // The same through fragments, spread where they count.
    let spread: String = (0..101)
        .map(|i| format!("s{i}: session {{ ...U }} "))
        .collect();
    let q = format!("{{ {spread} }} fragment U on SessionInfo {{ user {{ id email }} }}");
    refused(&app.gql(&q, json!({}), None).await, "Query is too complex.");
    // Introspection beside latch's fields: only latch's fields count.
    let mut nested = String::from("name");
    for _ in 0..10 {
        nested = format!("ofType {{ {nested} }}");
    }
    let ok = app
        .gql(
            &format!("{{ __schema {{ types {{ fields {{ type {{ {nested} }} }} }} }} signInMethods {{ password }} }}"),
            json!({}),
            None,
        )
        .await;
    assert!(ok.body["errors"].is_null(), "{}", ok.text);
    assert_eq!(ok.body["data"]["signInMethods"]["password"], true);
}

#[tokio::test]
async fn introspection_that_multiplies_itself_is_refused_before_running() {
    // Fragments that spread ten `fields` each, three levels deep: a billion-field
    // answer in a few hundred bytes, counted by neither limit above.
    let app = spawn_app().await;
    let mut q = String::from("{ __type(name: \"User\") { ...A } }");
    for (name, next) in [("A", Some("B")), ("B", Some("C")), ("C", None)] {
        let inner = next.map_or("name".to_string(), |n| format!("type {{ ...{n} }}"));
        let aliases: String = (0..10)
            .map(|i| format!("f{i}: fields {{ {inner} }} "))
            .collect();
        q.push_str(&format!(" fragment {name} on __Type {{ {aliases} }}"));
    }
    refused(
        &app.gql(&q, json!({}), None).await,
        "Introspection query is too deep or too large.",
    );
    // Over GET too (no Origin check there).
    let r = app
        .get(
            &format!(
                "/graphql?query={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ),
            None,
        )
        .await;
    refused(&r, "Introspection query is too deep or too large.");
}

/// Every route that takes a JSON body: hostile's POST routes and the social starts.
fn body_routes() -> impl Iterator<Item = &'static str> {
    crate::hostile::POST_ROUTES
        .iter()
        .copied()
        .chain(["/auth/sign-in/social", "/auth/link-social"])
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_400_on_every_route() {
    let app = spawn_app().await;
    let token = app.verified_user("arrays@example.com").await;
    let bodies = [
        r#"["arrays@example.com", "correct horse battery staple"]"#,
        r#""arrays@example.com""#,
        "42",
        "true",
        "null",
        " [] ",
    ];
    for route in body_routes() {
        for body in bodies {
            let r = app
                .send(
                    app.client
                        .post(app.url(route))
                        .header("content-type", "application/json")
                        .header("cookie", format!("session_token={token}"))
                        .body(body),
                )
                .await;
            assert_eq!(r.status, 400, "{route} {body}: {}", r.text);
            assert_eq!(r.body["code"], "BAD_REQUEST", "{route} {body}");
            assert_eq!(r.body["message"], "The request body must be a JSON object.");
        }
    }
    // The array that used to be read as a sign-in: nothing was counted.
    for _ in 0..6 {
        let r = app
            .post_raw(
                "/auth/sign-in/email",
                Some("application/json"),
                br#"["arrays@example.com", "wrong password here"]"#.to_vec(),
            )
            .await;
        assert_eq!(r.status, 400);
    }
    assert_eq!(
        app.sign_in("arrays@example.com", PASSWORD).await.status,
        200
    );
    // GraphQL's `input` is an object type too: a list there is refused by GraphQL.
    let g = app
        .gql(
            "mutation($i: SignInEmailInput!) { signInEmail(input: $i) { token } }",
            json!({"i": ["arrays@example.com", PASSWORD]}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "BAD_REQUEST", "{}", g.text);
}

async fn methods_both_doors(app: &TestApp) -> Value {
    let rest = app.get("/auth/sign-in-methods", None).await;
    assert_eq!(rest.status, 200, "{}", rest.text);
    let gql = app
        .gql(
            "{ signInMethods { password passkey providers { id displayName } turnstile { siteKey flows } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        gql.body["data"]["signInMethods"], rest.body,
        "both doors agree"
    );
    rest.body
}

#[tokio::test]
async fn sign_in_methods_without_providers_or_turnstile() {
    let app = spawn_app().await;
    assert_eq!(
        methods_both_doors(&app).await,
        json!({"password": true, "passkey": false, "providers": [], "turnstile": null})
    );
}

#[tokio::test]
async fn sign_in_methods_list_providers_by_id_and_the_turnstile_site_key() {
    let issuer = "http://127.0.0.1:9".to_string();
    let mut vars = Vec::new();
    for (name, display) in [("ZULU", Some("Zulu Workforce SSO")), ("ACME", None)] {
        vars.push((format!("LATCH_OIDC_{name}_ISSUER"), issuer.clone()));
        vars.push((format!("LATCH_OIDC_{name}_CLIENT_ID"), "latch".to_string()));
        if let Some(d) = display {
            vars.push((format!("LATCH_OIDC_{name}_DISPLAY_NAME"), d.to_string()));
        }
    }
    let app = spawn_app_with_oidc(
        &[
            "--turnstile-secret",
            "s3cret-never-published",
            "--turnstile-site-key",
            "0x4AAAAAAA-site",
            "--turnstile-flows",
            "sign-up,sign-in",
        ],
        vars.clone(),
    )
    .await;
    let m = methods_both_doors(&app).await;
    assert_eq!(
        m,
        json!({
            "password": true,
            "passkey": false,
            "providers": [
                {"id": "acme", "displayName": "Acme"},
                {"id": "zulu", "displayName": "Zulu Workforce SSO"},
            ],
            "turnstile": {"siteKey": "0x4AAAAAAA-site", "flows": ["sign-up", "sign-in"]},
        })
    );
    assert!(!m.to_string().contains("s3cret"));

    // Turnstile on without a site key: the key is null; off: turnstile is null.
    let no_key = spawn_app_with(&["--turnstile-secret", "x"]).await;
    let m = methods_both_doors(&no_key).await;
    assert_eq!(m["turnstile"]["siteKey"], Value::Null);
    assert_eq!(
        m["turnstile"]["flows"],
        json!([
            "sign-up",
            "sign-in",
            "forget-password",
            "resend-verification"
        ])
    );
    let off = spawn_app_with_oidc(&["--turnstile-site-key", "0x4AAAAAAA-site"], vars).await;
    assert_eq!(methods_both_doors(&off).await["turnstile"], Value::Null);
}

#[tokio::test]
async fn a_missing_body_is_400_and_a_body_without_json_type_is_415() {
    let app = spawn_app().await;
    for route in ["/auth/sign-in/email", "/auth/forget-password", "/graphql"] {
        let empty = app.post_raw(route, None, Vec::new()).await;
        assert_eq!(empty.status, 400, "{route}: {}", empty.text);
        assert_eq!(empty.body["code"], "BAD_REQUEST");
        let typed_empty = app
            .post_raw(route, Some("application/json"), Vec::new())
            .await;
        assert_eq!(typed_empty.status, 400, "{route}");
        let text = app
            .post_raw(route, Some("text/plain"), b"{}".to_vec())
            .await;
        assert_eq!(text.status, 415, "{route}");
    }
    // Routes without fields take an empty body with any or no content type.
    let r = app.post_raw("/auth/logout", None, Vec::new()).await;
    assert_eq!(r.status, 200);
}
