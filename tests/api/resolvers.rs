//! The GraphQL resolvers through `schema.execute`, below HTTP: the same service and
//! the same error extensions as over `/graphql`.

use async_graphql::{Request, Value};
use clap::Parser;
use latch::graphql::{GqlRequest, build_schema};
use latch::service::RequestMeta;
use latch::startup::Application;
use serde_json::json;

use crate::helpers::*;

async fn schema_and_app() -> (latch::graphql::LatchSchema, TestApp) {
    let app = spawn_app().await;
    let settings = latch::config::Cli::try_parse_from([
        "latch",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        &app.db_url,
        "--mail-outbox",
        &app.outbox.display().to_string(),
        "--secret-key-file",
        &app.outbox.with_file_name("latch.key").display().to_string(),
        "--argon2-memory-kib",
        "256",
        "--argon2-iterations",
        "1",
    ])
    .unwrap()
    .settings;
    let built = Application::build(settings).await.unwrap();
    (build_schema(Some(built.state().clone())), app)
}

fn run(q: &str, bearer: Option<String>) -> Request {
    Request::new(q).data(GqlRequest::new(bearer, RequestMeta::default()))
}

#[tokio::test]
async fn resolvers_answer_through_the_service_below_http() {
    let (schema, app) = schema_and_app().await;
    let r = schema
        .execute(run("{ signInMethods { password passkey } }", None))
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let data = r.data.into_json().unwrap();
    assert_eq!(data["signInMethods"]["password"], true);

    // No session: the contract's extensions, as over HTTP.
    let r = schema.execute(run("{ me { user { id } } }", None)).await;
    let ext = r.errors[0].extensions.as_ref().unwrap();
    assert_eq!(ext.get("code"), Some(&Value::from("UNAUTHORIZED")));
    assert_eq!(ext.get("status"), Some(&Value::from(401u16)));

    // A session made over REST (same database) is the caller here.
    let token = app.verified_user("resolver@example.com").await;
    let r = schema
        .execute(run(
            "{ me { user { email } workspaces { role } } }",
            Some(token),
        ))
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let data = r.data.into_json().unwrap();
    assert_eq!(data["me"]["user"]["email"], "resolver@example.com");
    assert_eq!(data["me"]["workspaces"][0]["role"], "owner");

    // A validation error of the service keeps its fields.
    let r = schema
        .execute(run(
            r#"mutation { signUpEmail(input: {email: "x", password: "short", name: " "}) { verificationSent } }"#,
            None,
        ))
        .await;
    let ext = r.errors[0].extensions.as_ref().unwrap();
    assert_eq!(ext.get("code"), Some(&Value::from("VALIDATION_ERROR")));
    let fields = ext.get("fields").unwrap().clone().into_json().unwrap();
    for f in ["email", "name"] {
        assert!(fields.get(f).is_some(), "{f} in {fields}");
    }
}

/// `User`, `Session` and `SessionInfo` are answered in place from one declaration
/// (`plain_objects!`): every field the schema registers for them must resolve, each
/// to the value REST gives, so a misspelt GraphQL name in the declaration fails here.
#[tokio::test]
async fn every_registered_field_of_the_plain_objects_resolves() {
    let (schema, app) = schema_and_app().await;
    let fields_of = async |ty: &str| -> Vec<String> {
        let q = format!("{{ __type(name: \"{ty}\") {{ fields {{ name }} }} }}");
        let r = schema.execute(run(&q, None)).await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let data = r.data.into_json().unwrap();
        data["__type"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{ty} in the schema"))
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    let user = fields_of("User").await;
    let session = fields_of("Session").await;
    assert!(
        user.len() >= 7 && session.len() >= 6,
        "{user:?} {session:?}"
    );
    assert_eq!(fields_of("SessionInfo").await, ["session", "user"]);
    let query = format!(
        "{{ session {{ __typename session {{ __typename {} }} user {{ __typename {} }} }} }}",
        session.join(" "),
        user.join(" ")
    );
    let token = app.verified_user("plain@example.com").await;
    let r = schema.execute(run(&query, Some(token.clone()))).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let data = r.data.into_json().unwrap();
    let rest = app.get("/auth/session", Some(&token)).await;
    assert_eq!(rest.status, 200);
    assert_eq!(data["session"]["__typename"], "SessionInfo");
    for (ty, fields) in [("session", &session), ("user", &user)] {
        let got = &data["session"][ty];
        assert_eq!(
            got["__typename"],
            if ty == "user" { "User" } else { "Session" }
        );
        for f in fields {
            assert_eq!(got[f], rest.body[ty][f], "{ty}.{f}");
            assert!(got.get(f).is_some(), "{ty}.{f} answered");
        }
    }
}

/// The value of a counter in `/metrics` (0 when absent).
async fn counter(app: &TestApp, name: &str) -> f64 {
    let text = app.get("/metrics", None).await.text;
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `graphql/fast.rs` answers known session queries without the executor. Each shape is
/// sent twice: the first (an unknown document) goes through the executor, the second
/// through the fast path when it is eligible; the bodies and cookies must be the same.
#[tokio::test]
async fn the_session_fast_path_answers_what_the_executor_answers() {
    let app = spawn_app_with(&["--session-refresh-secs", "0"]).await;
    let token = app.verified_user("fast@example.com").await;
    let all_session = "id userId expiresAt createdAt ipAddress userAgent authenticatedAt \
                       lastActiveAt lastIpAddress authMethods";
    let all_user = "id email name emailVerified image createdAt updatedAt";
    let eligible = [
        format!("{{ session {{ session {{ {all_session} }} user {{ {all_user} }} }} }}"),
        "{ s: session { a: session { id } } }".to_string(),
        "query Q { session { ...F } } fragment F on SessionInfo { user { ...U } __typename } \
         fragment U on User { id email createdAt }"
            .to_string(),
        "{ session { ... on SessionInfo { session { id __typename } } ... { user { image } } } }"
            .to_string(),
        // Nested selections of one key merge in order. (The same root key twice is left
        // out: the executor resolves root fields concurrently and merges them in the order
        // they finish, so its own order varies from run to run.)
        "{ session { user { id } user { email } session { id } } }".to_string(),
    ];
    let not_eligible = [
        // Two root fields: the executor authenticates (and may extend) once per field.
        "{ a: session { s: session { id } } b: session { user { name } } }".to_string(),
        "{ session { user @include(if: true) { id } } }".to_string(),
        "{ __typename session { user { id } } }".to_string(),
        "{ session { user { id } } me { user { email } } }".to_string(),
    ];
    for (query, fast) in eligible
        .iter()
        .map(|q| (q, true))
        .chain(not_eligible.iter().map(|q| (q, false)))
    {
        let before = counter(&app, "latch_graphql_fast_answers_total").await;
        let first = app.gql(query, json!({}), Some(&token)).await;
        let second = app.gql(query, json!({}), Some(&token)).await;
        let after = counter(&app, "latch_graphql_fast_answers_total").await;
        assert!(first.body["errors"].is_null(), "{query}: {}", first.text);
        // Timestamps move with each extension (refresh every request here): the bodies
        // must be the same byte for byte but for digits (keys, order, values, shape).
        let mask = |t: &str| -> String {
            t.chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect()
        };
        let parsed = |t: &str| serde_json::from_str::<serde_json::Value>(&mask(t)).unwrap();
        assert_eq!(parsed(&first.text), parsed(&second.text), "{query}");
        // The executor runs root fields concurrently and writes them in the order they
        // finish; below the root, and with one root field, the order is the query's.
        if first.body["data"].as_object().is_some_and(|d| d.len() == 1) {
            assert_eq!(mask(&first.text), mask(&second.text), "{query}");
        }
        assert_eq!(after - before, if fast { 1.0 } else { 0.0 }, "{query}");
        // A session extended by the check re-issues the cookie either way.
        assert!(
            first.session_cookie().is_some() && second.session_cookie().is_some(),
            "{query}"
        );
    }
    // An operation name that matches nothing is the executor's error, every time.
    for _ in 0..2 {
        let r = app
            .post(
                "/graphql",
                json!({"query": "{ session { user { id } } }", "operationName": "X"}),
                Some(&token),
            )
            .await;
        assert!(r.body["data"].is_null(), "{}", r.text);
        assert!(!r.body["errors"][0].is_null(), "{}", r.text);
    }
    // Without a session both answer the same error.
    let q = &eligible[0];
    let first = app.gql(q, json!({}), None).await;
    let second = app.gql(q, json!({}), None).await;
    assert_eq!(first.body, second.body);
    assert_eq!(first.gql_ext()["code"], "UNAUTHORIZED");
}
