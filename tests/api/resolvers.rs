//! The GraphQL resolvers through `schema.execute`, below HTTP: the same service and
//! the same error extensions as over `/graphql`.

use async_graphql::{Request, Value};
use clap::Parser;
use latch::graphql::{GqlRequest, build_schema};
use latch::service::RequestMeta;
use latch::startup::Application;

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
