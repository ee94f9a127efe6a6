//! Conventions of contract §2–§5: body rules, error shapes, routes, schema and OpenAPI.

use serde_json::json;

use crate::helpers::*;
use crate::snap;

#[tokio::test]
async fn bodies_must_be_json_small_and_well_formed() {
    let app = spawn_app().await;
    let path = "/auth/sign-in/email";
    let r = app.post_raw(path, Some("text/plain"), b"{}".to_vec()).await;
    assert_eq!(r.status, 415);
    assert_eq!(r.body["code"], "UNSUPPORTED_MEDIA_TYPE");
    let r = app.post_raw(path, None, b"{}".to_vec()).await;
    assert_eq!(r.status, 415);

    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(70 * 1024));
    let r = app
        .post_raw(path, Some("application/json"), big.into_bytes())
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["code"], "PAYLOAD_TOO_LARGE");
    snap!("rest_payload_too_large", r.body);

    let r = app
        .post_raw(
            path,
            Some("application/json; charset=utf-8"),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "BAD_REQUEST");
    snap!("rest_bad_json", r.body);

    for body in [
        json!({"password": "x"}),
        json!({"email": 12, "password": "x"}),
        json!({"email": "a@b.co", "password": "x", "rememberMe": "yes"}),
        json!([1, 2]),
    ] {
        let r = app.post(path, body.clone(), None).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body["code"], "BAD_REQUEST");
    }
    let invalid = app
        .post(
            path,
            json!({"email": "nope", "password": "x", "extra": true}),
            None,
        )
        .await;
    assert_eq!(invalid.status, 422, "unknown fields are ignored");
    let r = app
        .post_raw(path, Some("application/json"), vec![0xff, 0xfe, 0x00])
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let r = app.get("/auth/nope", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "NOT_FOUND");
    let r = app.get("/auth/sign-in/email", None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body["code"], "METHOD_NOT_ALLOWED");
    snap!("rest_method_not_allowed", r.body);
    let r = app.post("/auth/session", json!({}), None).await;
    assert_eq!(r.status, 405);
    assert!(r.header("cache-control").unwrap().contains("no-store"));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"status": "ok"}));
}

#[tokio::test]
async fn healthz_is_503_when_the_database_does_not_answer() {
    let app = spawn_app_with_db_closed().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body, json!({"status": "unavailable"}));
    // Other routes answer 503 UNAVAILABLE (contract §3) without detail.
    let r = app.sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["code"], "UNAVAILABLE");
    assert!(r.header("retry-after").is_some());
    assert!(!r.text.to_lowercase().contains("pool"), "{}", r.text);
}

#[tokio::test]
async fn mutations_over_get_are_refused_with_no_side_effect() {
    let app = spawn_app().await;
    let q = "mutation { signUpEmail(input: {email: \"get@example.com\", password: \"correct horse battery staple\", name: \"G\"}) { verificationSent } }";
    let r = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // Nothing was created: a sign-up through POST is a fresh account.
    let ok = app.sign_up("get@example.com", PASSWORD, "G").await;
    app.settle_and_count("get@example.com", 1).await;
    assert_eq!(ok.body["verificationSent"], true);

    // Queries over GET run.
    let r = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "QueryRoot");
}

#[tokio::test]
async fn graphiql_is_served_to_browsers() {
    let app = spawn_app().await;
    let r = app.get("/graphql", None).await;
    assert_eq!(r.status, 200);
    assert!(r.text.to_lowercase().contains("graphiql"));
}

#[tokio::test]
async fn graphql_errors_carry_the_contract_extensions() {
    let app = spawn_app().await;
    let r = app.gql("{ nope }", json!({}), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.gql_ext()["code"], "BAD_REQUEST");
    assert_eq!(r.gql_ext()["status"], 400);
    let r = app
        .gql(
            "mutation { signInEmail(input: {email: \"bad\", password: \"x\"}) { token } }",
            json!({}),
            None,
        )
        .await;
    snap!("graphql_validation_error", r.body);
    // Missing input fields are a GraphQL validation error, with code BAD_REQUEST.
    let r = app
        .gql(
            "mutation { signInEmail(input: {email: \"a@b.co\"}) { token } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(r.gql_ext()["code"], "BAD_REQUEST");
    // The body rules hold before GraphQL runs.
    let r = app
        .post_raw("/graphql", Some("text/plain"), b"{}".to_vec())
        .await;
    assert_eq!(r.status, 415);
    let big = format!("{{\"query\": \"{}\"}}", " ".repeat(70 * 1024));
    let r = app
        .post_raw("/graphql", Some("application/json"), big.into_bytes())
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["code"], "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn schema_file_is_what_print_schema_prints_and_what_is_served() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the repository root");
    assert_eq!(
        committed,
        latch::graphql::sdl(),
        "regenerate with `cargo run -- print-schema > schema.graphql`"
    );
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("print-schema")
        .output()
        .expect("runs latch print-schema");
    assert!(printed.status.success());
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), committed);
    let app = spawn_app().await;
    let served = app.get("/graphql/schema.graphql", None).await;
    assert_eq!(served.text, committed);
}

#[tokio::test]
async fn openapi_documents_every_rest_route() {
    let app = spawn_app().await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths: Vec<&str> = r.body["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    snap!("openapi_paths", json!(paths));
    for p in [
        "/auth/sign-up/email",
        "/auth/sign-in/email",
        "/auth/session",
        "/auth/me",
        "/auth/logout",
        "/auth/sign-out",
        "/auth/forget-password",
        "/reset-password",
        "/auth/reset-password",
        "/auth/change-password",
        "/auth/set-password",
        "/auth/verify-email",
        "/auth/resend-verification",
        "/auth/linked-accounts",
        "/auth/unlink-provider",
        "/auth/two-factor/status",
        "/healthz",
    ] {
        assert!(paths.contains(&p), "{p} missing from /openapi.json");
    }
}

#[tokio::test]
async fn metrics_count_the_flows_and_request_latency_by_route() {
    let app = spawn_app_with(&["--lockout-threshold", "1"]).await;
    app.verified_user("metrics@example.com").await;
    assert_eq!(
        app.sign_in("metrics@example.com", PASSWORD).await.status,
        200
    );
    assert_eq!(
        app.sign_in("metrics@example.com", "wrong one").await.status,
        401
    );
    assert_eq!(
        app.sign_in("metrics@example.com", PASSWORD).await.status,
        423
    );
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    for needle in [
        "latch_sign_ups_total ",
        "latch_sign_ins_total{outcome=\"success\"}",
        "latch_sign_ins_total{outcome=\"invalid_credentials\"}",
        "latch_sign_ins_total{outcome=\"account_locked\"}",
        "latch_lockouts_total ",
        "latch_emails_total{kind=\"verify-email\",outcome=\"sent\"}",
        "latch_http_request_duration_seconds_bucket{route=\"/auth/sign-in/email\",method=\"POST\",status=\"200\"",
    ] {
        assert!(
            r.text.contains(needle),
            "{needle} missing from:\n{}",
            r.text
        );
    }
}

#[tokio::test]
async fn the_purge_removes_only_what_has_expired() {
    let app = spawn_app().await;
    let keep = app.verified_user("purge@example.com").await;
    let gone = app.sign_in("purge@example.com", PASSWORD).await.token();
    app.sql(
        "UPDATE sessions SET expires_at = 1 WHERE token_hash = $1",
        &[latch::domain::token_hash(&gone).as_str()],
    )
    .await;
    // Ended a minute ago: within the grace that covers the instances' clock
    // differences (README "Running in production"), so it stays, refused meanwhile.
    let recent = app.sign_in("purge@example.com", PASSWORD).await.token();
    let minute_ago = latch::domain::Timestamp::now().millis() - 60_000;
    app.sql(
        &format!("UPDATE sessions SET expires_at = {minute_ago} WHERE token_hash = $1"),
        &[latch::domain::token_hash(&recent).as_str()],
    )
    .await;
    assert_eq!(app.get("/auth/session", Some(&recent)).await.status, 401);
    app.sql(
        "INSERT INTO oauth_states (state_hash, provider, pkce_verifier, nonce, expires_at, created_at) \
         VALUES ('old', 'test', 'v', 'n', 1, 1), ('new', 'test', 'v', 'n', 99999999999999, 1)",
        &[],
    )
    .await;
    let store =
        latch::store::Store::connect(&app.db_url, Some(1), std::time::Duration::from_secs(5))
            .await
            .unwrap();
    let removed = store.purge_expired(900).await.unwrap();
    assert!(removed >= 2, "{removed}");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM sessions").await, 2);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM oauth_states").await, 1);
    assert_eq!(app.get("/auth/session", Some(&keep)).await.status, 200);
    // Idempotent: a second run (another instance) finds nothing more.
    assert_eq!(store.purge_expired(900).await.unwrap(), 0);
}

#[tokio::test]
async fn the_landing_page_links_graphiql_openapi_and_a_quick_start() {
    let app = spawn_app().await;
    let r = app.get("/", None).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    for needle in [
        "href=\"/graphql\"",
        "href=\"/openapi.json\"",
        "Quick start",
        &app.addr,
    ] {
        assert!(r.text.contains(needle), "{needle} missing");
    }
}

/// Repeated query texts are served from the parsed-document cache; validation must
/// still answer exactly as for a first request.
#[tokio::test]
async fn repeated_graphql_queries_are_validated_like_new_ones() {
    let app = spawn_app().await;
    let token = app.verified_user("repeat@example.com").await;
    let named = "query S { session { user { email } } }";
    for _ in 0..3 {
        let r = app
            .post(
                "/graphql",
                json!({"query": named, "operationName": "S"}),
                Some(&token),
            )
            .await;
        assert_eq!(
            r.body["data"]["session"]["user"]["email"],
            "repeat@example.com"
        );
    }
    // The same text with an operation name it does not define.
    let r = app
        .post(
            "/graphql",
            json!({"query": named, "operationName": "T"}),
            Some(&token),
        )
        .await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    assert_eq!(r.gql_ext()["code"], "BAD_REQUEST");
    // An invalid text stays invalid however often it is sent.
    for _ in 0..3 {
        let r = app
            .gql("{ session { user { nope } } }", json!({}), Some(&token))
            .await;
        assert!(r.body["data"].is_null(), "{}", r.text);
        assert_eq!(r.gql_ext()["code"], "BAD_REQUEST");
    }
    // A text validated without variables is validated again when they come.
    let with_var = "query($hide: Boolean = false) { session { user { email @skip(if: $hide) } } }";
    let r = app.gql(with_var, json!({}), Some(&token)).await;
    assert_eq!(
        r.body["data"]["session"]["user"]["email"], "repeat@example.com",
        "{}",
        r.text
    );
    let r = app
        .gql(with_var, json!({"hide": "not a boolean"}), Some(&token))
        .await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    assert_eq!(r.gql_ext()["code"], "BAD_REQUEST");
    // Mutations are never kept: a repeated sign-in with a wrong password is refused
    // each time with the contract's error.
    for _ in 0..2 {
        let r = app
            .gql(
                r#"mutation { signInEmail(input: {email: "repeat@example.com", password: "wrong password here"}) { token } }"#,
                json!({}),
                None,
            )
            .await;
        assert_eq!(r.gql_ext()["code"], "UNAUTHORIZED", "{}", r.text);
    }
}

/// Users, sessions and session infos are answered in place (not by the derived
/// resolvers): aliases, fragments, `__typename`, directives and merged selections
/// must come out as GraphQL defines them.
#[tokio::test]
async fn session_objects_answer_every_selection_form() {
    let app = spawn_app().await;
    let token = app.verified_user("forms@example.com").await;
    let query = r#"query Q {
        session {
            __typename
            s: session { ...S id }
            user { ... on User { email __typename } name }
            user { id image @skip(if: true) createdAt @include(if: false) }
        }
    }
    fragment S on Session { userId expiresAt }"#;
    for _ in 0..2 {
        let r = app
            .post(
                "/graphql",
                json!({"query": query, "operationName": "Q"}),
                Some(&token),
            )
            .await;
        assert!(r.body["errors"].is_null(), "{}", r.text);
        let info = &r.body["data"]["session"];
        assert_eq!(info["__typename"], "SessionInfo");
        let user = info["user"].as_object().unwrap();
        let keys: Vec<&str> = user.keys().map(String::as_str).collect();
        assert_eq!(keys, ["__typename", "email", "id", "name"], "{}", r.text);
        // Fields come out in selection order.
        assert!(
            r.text.contains(r#""user":{"email":"forms@example.com","__typename":"User","name":"Test User","id":""#),
            "{}",
            r.text
        );
        assert_eq!(user["email"], "forms@example.com");
        assert_eq!(user["__typename"], "User");
        assert_eq!(user["name"], "Test User");
        let session = info["s"].as_object().unwrap();
        let keys: Vec<&str> = session.keys().map(String::as_str).collect();
        assert_eq!(keys, ["expiresAt", "id", "userId"], "{}", r.text);
        assert!(r.text.contains(r#""s":{"userId":""#), "{}", r.text);
        assert_eq!(session["userId"], user["id"]);
        assert!(info.get("session").is_none());
    }
    // The same objects inside other types (Me's user).
    let r = app
        .gql(
            "{ me { user { email emailVerified image } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        r.body["data"]["me"]["user"],
        json!({"email": "forms@example.com", "emailVerified": true, "image": null})
    );
}
