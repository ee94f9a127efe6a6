//! Profile and email change (docs/api.md §11.1–11.3) through REST and GraphQL, with
//! the notices they send (§12).

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn update_user_changes_what_is_sent_and_keeps_the_rest() {
    let app = spawn_app().await;
    let token = app.verified_user("profile@example.com").await;
    let before = app.get("/auth/me", Some(&token)).await.body["user"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let r = app
        .post(
            "/auth/update-user",
            json!({"image": "https://cdn.example.com/ada.png"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["image"], "https://cdn.example.com/ada.png");
    assert_eq!(
        r.body["user"]["name"], before["name"],
        "a field left out is kept"
    );
    assert_ne!(r.body["user"]["updatedAt"], before["updatedAt"]);

    let r = app
        .post(
            "/auth/update-user",
            json!({"name": "  Ada L.  "}),
            Some(&token),
        )
        .await;
    assert_eq!(r.body["user"]["name"], "Ada L.");
    assert_eq!(r.body["user"]["image"], "https://cdn.example.com/ada.png");

    // Every invalid field in one 422; nothing changes.
    let r = app
        .post(
            "/auth/update-user",
            json!({"name": "\u{202e}evil", "image": "javascript:alert(1)"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.body["fields"]["name"].is_array());
    assert!(r.body["fields"]["image"].is_array());
    let now = app.get("/auth/me", Some(&token)).await.body["user"].clone();
    assert_eq!(now["name"], "Ada L.");

    // GraphQL: null clears the picture.
    let g = app
        .gql(
            "mutation { updateUser(input: {image: null}) { user { name image } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        g.body["data"]["updateUser"]["user"],
        json!({"name": "Ada L.", "image": null}),
        "{}",
        g.text
    );
    let g = app
        .gql(
            "mutation { updateUser(input: {image: \"ftp://x\"}) { user { name } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "VALIDATION_ERROR");
    assert!(g.gql_ext()["fields"]["image"].is_array());
    assert_eq!(
        app.post("/auth/update-user", json!({}), None).await.status,
        401
    );
}

#[tokio::test]
async fn an_email_change_is_confirmed_by_the_new_address_and_told_to_the_old() {
    let app = spawn_app().await;
    let token = app.verified_user("old@example.com").await;
    let other = app.sign_in("old@example.com", PASSWORD).await.token();
    let r = app
        .post(
            "/auth/change-email",
            json!({"newEmail": "New@Example.com", "callbackURL": "/settings"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"status": true}));
    let link = app
        .wait_link("new@example.com", "confirm-email-change", 1)
        .await;
    assert!(
        query_param(&link, "callbackURL")
            .unwrap()
            .ends_with("/settings")
    );
    assert!(link.contains("/auth/confirm-email-change?token="));
    // Nothing changed yet.
    assert_eq!(app.sign_in("old@example.com", PASSWORD).await.status, 200);

    let r = app.get(&path_of(&link), None).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(r.header("location").unwrap().ends_with("/settings"));
    assert!(r.session_cookie().is_none(), "it does not sign in");
    // The account's address changed and is verified; sessions are kept.
    let me = app.get("/auth/me", Some(&other)).await;
    assert_eq!(me.body["user"]["email"], "new@example.com");
    assert_eq!(me.body["user"]["emailVerified"], true);
    assert_eq!(app.sign_in("old@example.com", PASSWORD).await.status, 401);
    assert_eq!(app.sign_in("new@example.com", PASSWORD).await.status, 200);
    // The old address is told, with the request's details and no link but the app's.
    let (_, text, _) = app.wait_notice("old@example.com", "email-changed").await;
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(!text.contains("token"), "{text}");
    // The link is single use; with a callbackURL the error goes back to the app.
    let r = app.get(&path_of(&link), None).await;
    assert_eq!(r.status, 302);
    assert!(
        r.header("location")
            .unwrap()
            .contains("error=INVALID_TOKEN"),
        "{:?}",
        r.header("location")
    );
    let bare = format!(
        "/auth/confirm-email-change?token={}",
        query_param(&link, "token").unwrap()
    );
    let r = app.get(&bare, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "INVALID_TOKEN");
}

#[tokio::test]
async fn a_verified_address_gets_a_notice_instead_of_a_link() {
    let app = spawn_app().await;
    let token = app.verified_user("mover@example.com").await;
    app.verified_user("taken@example.com").await;
    let r = app
        .post(
            "/auth/change-email",
            json!({"newEmail": "taken@example.com"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "same answer: {}", r.text);
    app.wait_notice("taken@example.com", "email-in-use").await;
    // No link went anywhere; the holder got exactly its verification mail and the notice.
    app.settle_and_count("taken@example.com", 2).await;
    assert!(
        app.emails_to("taken@example.com")
            .iter()
            .all(|(_, text, _)| !text.contains("confirm-email-change"))
    );
    assert_eq!(
        app.get("/auth/me", Some(&token)).await.body["user"]["email"],
        "mover@example.com"
    );
}

#[tokio::test]
async fn a_verified_account_that_took_the_address_meanwhile_wins() {
    let app = spawn_app().await;
    let token = app.verified_user("slow@example.com").await;
    let g = app
        .gql(
            "mutation { changeEmail(input: {newEmail: \"race@example.com\"}) { status } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(g.body["data"]["changeEmail"]["status"], true, "{}", g.text);
    let link = app
        .wait_link("race@example.com", "confirm-email-change", 1)
        .await;
    // Someone signs up with the address and verifies it before the link is followed.
    app.verified_user("race@example.com").await;
    let token_param = query_param(&link, "token").unwrap();
    let g = app
        .gql(
            "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { user { email } } }",
            json!({"t": token_param}),
            None,
        )
        .await;
    assert_eq!(g.gql_ext()["code"], "USER_EXISTS", "{}", g.text);
    assert_eq!(g.gql_ext()["status"], 409);
    assert_eq!(
        app.get("/auth/me", Some(&token)).await.body["user"]["email"],
        "slow@example.com"
    );
}

#[tokio::test]
async fn an_unverified_holder_of_the_address_is_replaced() {
    let app = spawn_app().await;
    let token = app.verified_user("keeper@example.com").await;
    // An unverified account (someone typed the address and never verified it).
    app.sign_up("squat@example.com", PASSWORD, "Squatter").await;
    app.post(
        "/auth/change-email",
        json!({"newEmail": "squat@example.com"}),
        Some(&token),
    )
    .await;
    let link = app
        .wait_link("squat@example.com", "confirm-email-change", 1)
        .await;
    let g = app
        .gql(
            "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { user { email emailVerified } } }",
            json!({"t": query_param(&link, "token").unwrap()}),
            None,
        )
        .await;
    assert_eq!(
        g.body["data"]["confirmEmailChange"]["user"],
        json!({"email": "squat@example.com", "emailVerified": true}),
        "{}",
        g.text
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM users WHERE name = 'Squatter'")
            .await,
        0
    );
    // The squatter's verification link is gone with its account.
    let verify = app.wait_link("squat@example.com", "verify-email", 1).await;
    assert_eq!(app.get(&path_of(&verify), None).await.status, 400);
}

#[tokio::test]
async fn concurrent_confirmations_for_one_address_leave_one_owner() {
    let app = spawn_app().await;
    let mut links = Vec::new();
    for who in ["ann", "bob", "cat"] {
        let token = app.verified_user(&format!("{who}@example.com")).await;
        app.post(
            "/auth/change-email",
            json!({"newEmail": "prize@example.com"}),
            Some(&token),
        )
        .await;
    }
    for n in 1..=3 {
        links.push(
            app.wait_link("prize@example.com", "confirm-email-change", n)
                .await,
        );
    }
    let statuses = {
        let urls: Vec<String> = links.iter().map(|l| app.url(&path_of(l))).collect();
        let tasks: Vec<_> = urls
            .into_iter()
            .map(|u| {
                let c = app.client.clone();
                tokio::spawn(async move { c.get(u).send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    };
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM users WHERE email = 'prize@example.com'")
            .await,
        1
    );
}

#[tokio::test]
async fn password_flows_send_their_notices_outside_the_hourly_cap() {
    let app = spawn_app().await;
    let token = app.verified_user("notice@example.com").await;
    let r = app
        .post(
            "/auth/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": OTHER_PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (subject, text, html) = app
        .wait_notice("notice@example.com", "password-changed")
        .await;
    assert!(subject.to_lowercase().contains("password"));
    assert!(text.contains("latch-tests"), "the user agent: {text}");
    assert!(text.contains("(UTC)"));
    assert!(html.contains("127.0.0.1"));

    // Fill the hourly cap with reset links; the reset's notice still goes out.
    for _ in 0..10 {
        app.post(
            "/auth/forget-password",
            json!({"email": "notice@example.com"}),
            None,
        )
        .await;
    }
    app.wait_link("notice@example.com", "reset-password", 9)
        .await;
    app.settle_and_count("notice@example.com", 11).await;
    // The background sends may finish in any order: exactly one link (the last one
    // stored) still works.
    let mut worked = 0;
    for (_, text, _) in app.emails_to("notice@example.com") {
        let Some(link) = link_in(&text).filter(|l| l.contains("reset-password")) else {
            continue;
        };
        let r = app
            .post(
                "/auth/reset-password",
                json!({"token": query_param(&link, "token").unwrap(), "newPassword": "a brand new passphrase 42"}),
                None,
            )
            .await;
        worked += usize::from(r.status == 200);
    }
    assert_eq!(worked, 1);
    app.wait_notice("notice@example.com", "password-reset")
        .await;
    assert_eq!(
        app.notices_to("notice@example.com"),
        ["password-changed", "password-reset"]
    );
}

#[tokio::test]
async fn a_newer_request_voids_the_older_link_and_nothing_moves_without_a_change() {
    let app = spawn_app().await;
    let token = app.verified_user("twice@example.com").await;
    for to in ["first@example.com", "second@example.com"] {
        let r = app
            .post("/auth/change-email", json!({"newEmail": to}), Some(&token))
            .await;
        assert_eq!(r.status, 200);
        app.wait_link(to, "confirm-email-change", 1).await;
    }
    let first = app
        .wait_link("first@example.com", "confirm-email-change", 1)
        .await;
    let second = app
        .wait_link("second@example.com", "confirm-email-change", 1)
        .await;
    assert_eq!(app.get(&path_of(&first), None).await.status, 400, "voided");
    // A foreign callbackURL is refused and consumes nothing.
    let t = query_param(&second, "token").unwrap();
    let r = app
        .get(
            &format!(
                "/auth/confirm-email-change?token={t}&callbackURL=https%3A%2F%2Fevil.example%2F"
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(app.get(&path_of(&second), None).await.status, 200);

    // update-user with nothing new: updatedAt stays; name: null is refused.
    let before = app.get("/auth/me", Some(&token)).await.body["user"].clone();
    let r = app.post("/auth/update-user", json!({}), Some(&token)).await;
    assert_eq!(r.body["user"]["updatedAt"], before["updatedAt"]);
    let r = app
        .post("/auth/update-user", json!({"name": null}), Some(&token))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["fields"]["name"].is_array());
}

#[tokio::test]
async fn a_taken_address_goes_back_to_the_callback_with_its_code() {
    let app = spawn_app().await;
    let token = app.verified_user("cb@example.com").await;
    app.post(
        "/auth/change-email",
        json!({"newEmail": "cb-taken@example.com", "callbackURL": "/settings"}),
        Some(&token),
    )
    .await;
    let link = app
        .wait_link("cb-taken@example.com", "confirm-email-change", 1)
        .await;
    app.verified_user("cb-taken@example.com").await;
    let r = app.get(&path_of(&link), None).await;
    assert_eq!(r.status, 302);
    assert!(
        r.header("location")
            .unwrap()
            .ends_with("/settings?error=USER_EXISTS"),
        "{:?}",
        r.header("location")
    );
}
