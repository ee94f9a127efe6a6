//! Linked accounts, unlink rules and two-factor status, through REST and GraphQL.

use serde_json::json;

use crate::helpers::*;
use crate::snap;

#[tokio::test]
async fn linked_accounts_list_the_credential_and_providers() {
    let app = spawn_app().await;
    let token = app.verified_user("linked@example.com").await;
    let r = app.get("/auth/linked-accounts", Some(&token)).await;
    assert_eq!(r.status, 200);
    let user_id = app.user_id(&token).await;
    assert_eq!(r.body["accounts"][0]["provider"], "credential");
    assert_eq!(r.body["accounts"][0]["accountId"], user_id.as_str());
    snap!("rest_linked_accounts", r.body);

    app.link_identity(&user_id, "acme", "sub-1").await;
    let g = app
        .gql(
            "{ linkedAccounts { provider accountId createdAt } }",
            json!({}),
            Some(&token),
        )
        .await;
    let list = g.body["data"]["linkedAccounts"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", g.text);
    assert_eq!(list[1]["provider"], "acme");
    assert_eq!(list[1]["accountId"], "sub-1");
}

#[tokio::test]
async fn unlink_never_removes_the_last_way_to_sign_in() {
    let app = spawn_app().await;
    let token = app.verified_user("last@example.com").await;
    let r = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "credential"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["reason"], "LAST_LOGIN_METHOD");
    snap!("rest_last_login_method", r.body);
    let g = app
        .gql(
            "mutation { unlinkProvider(input: {provider: \"credential\"}) { status } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(g.gql_ext()["reason"], "LAST_LOGIN_METHOD");
    assert_eq!(g.gql_ext()["status"], 403);

    let r = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "acme"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "NOT_FOUND");

    // With a provider linked, that provider can go only while the password stays.
    let user_id = app.user_id(&token).await;
    app.link_identity(&user_id, "acme", "sub-1").await;
    let wrong_id = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "acme", "accountId": "sub-2"}),
            Some(&token),
        )
        .await;
    assert_eq!(wrong_id.status, 404);
    let ok = app
        .post(
            "/auth/unlink-provider",
            json!({"provider": "acme", "accountId": "sub-1"}),
            Some(&token),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body, json!({"status": true}));
    let list = app.get("/auth/linked-accounts", Some(&token)).await;
    assert_eq!(list.body["accounts"].as_array().unwrap().len(), 1);
}
