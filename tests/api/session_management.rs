//! Session management (docs/api.md §9) through REST and GraphQL: the list, revoking
//! one or every other session, and the activity fields.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_list_shows_the_current_session_first_and_never_a_token() {
    let app = spawn_app().await;
    let first = app.verified_user("list@example.com").await;
    let second = app.sign_in("list@example.com", PASSWORD).await.token();
    let third = app.sign_in("list@example.com", PASSWORD).await.token();
    // Another user's sessions never appear.
    app.verified_user("stranger@example.com").await;

    let r = app.get("/auth/list-sessions", Some(&second)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sessions = r.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0]["current"], true);
    assert!(sessions[1..].iter().all(|s| s["current"] == false));
    let me = app.get("/auth/session", Some(&second)).await;
    assert_eq!(sessions[0]["id"], me.body["session"]["id"]);
    for s in sessions {
        for key in [
            "lastActiveAt",
            "lastIpAddress",
            "authenticatedAt",
            "authMethods",
        ] {
            assert!(s.get(key).is_some(), "{key} in {s}");
        }
        for t in [&first, &second, &third] {
            assert!(!s.to_string().contains(t.as_str()), "a token in the list");
        }
        assert!(s.get("token").is_none() && s.get("tokenHash").is_none());
    }
    // The verify-email session says how it was made.
    let methods: Vec<_> = sessions.iter().map(|s| s["authMethods"].clone()).collect();
    assert!(methods.contains(&json!(["email-link"])), "{methods:?}");
    assert!(methods.contains(&json!(["password"])), "{methods:?}");

    // GraphQL answers the same list.
    let g = app
        .gql(
            "{ sessions { id current userAgent ipAddress authMethods lastActiveAt } }",
            json!({}),
            Some(&second),
        )
        .await;
    let list = g.body["data"]["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{}", g.text);
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["id"], me.body["session"]["id"]);
}

#[tokio::test]
async fn revoking_a_session_ends_it_at_once_and_only_the_callers() {
    let app = spawn_app().await;
    let mine = app.verified_user("revoke@example.com").await;
    let laptop = app.sign_in("revoke@example.com", PASSWORD).await.token();
    let stranger = app.verified_user("revoke-other@example.com").await;
    let laptop_id = app.get("/auth/session", Some(&laptop)).await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stranger_id = app.get("/auth/session", Some(&stranger)).await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The laptop is in use (its answers are remembered): the revocation is still seen
    // on its very next request.
    assert_eq!(app.get("/auth/session", Some(&laptop)).await.status, 200);

    // Someone else's session, or an unknown id: 404, and nothing ends.
    for id in [stranger_id.as_str(), "not-a-session"] {
        let r = app
            .post(
                "/auth/revoke-session",
                json!({"sessionId": id}),
                Some(&mine),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
    assert_eq!(app.get("/auth/session", Some(&stranger)).await.status, 200);

    let r = app
        .post(
            "/auth/revoke-session",
            json!({"sessionId": laptop_id}),
            Some(&mine),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], true);
    assert!(r.session_cookie().is_none(), "the caller's cookie is kept");
    assert_eq!(app.get("/auth/session", Some(&laptop)).await.status, 401);
    assert_eq!(app.get("/auth/session", Some(&mine)).await.status, 200);
    // Revoking it again: it is no longer one of the caller's active sessions.
    let r = app
        .post(
            "/auth/revoke-session",
            json!({"sessionId": laptop_id}),
            Some(&mine),
        )
        .await;
    assert_eq!(r.status, 404);

    // The caller's own id acts as logout: the cookie is cleared.
    let my_id = app.get("/auth/session", Some(&mine)).await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let g = app
        .gql(
            "mutation($id: String!) { revokeSession(input: {sessionId: $id}) { status } }",
            json!({"id": my_id}),
            Some(&mine),
        )
        .await;
    assert_eq!(
        g.body["data"]["revokeSession"]["status"], true,
        "{}",
        g.text
    );
    assert!(
        g.session_cookie().is_some_and(|c| c.contains("Max-Age=0")),
        "{:?}",
        g.session_cookie()
    );
    assert_eq!(app.get("/auth/session", Some(&mine)).await.status, 401);
}

#[tokio::test]
async fn revoke_other_sessions_keeps_only_the_callers() {
    let app = spawn_app().await;
    let mine = app.verified_user("others@example.com").await;
    let a = app.sign_in("others@example.com", PASSWORD).await.token();
    let b = app.sign_in("others@example.com", PASSWORD).await.token();
    let r = app
        .post_raw("/auth/revoke-other-sessions", None, Vec::new())
        .await;
    assert_eq!(r.status, 401, "a session is needed");
    let r = app
        .post("/auth/revoke-other-sessions", json!({}), Some(&mine))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"status": true, "revoked": 2}));
    for t in [&a, &b] {
        assert_eq!(app.get("/auth/session", Some(t)).await.status, 401);
    }
    assert_eq!(app.get("/auth/session", Some(&mine)).await.status, 200);
    let c = app.sign_in("others@example.com", PASSWORD).await.token();
    let g = app
        .gql(
            "mutation { revokeOtherSessions { status revoked } }",
            json!({}),
            Some(&c),
        )
        .await;
    assert_eq!(
        g.body["data"]["revokeOtherSessions"],
        json!({"status": true, "revoked": 1}),
        "{}",
        g.text
    );
    assert_eq!(app.get("/auth/session", Some(&mine)).await.status, 401);
}

#[tokio::test]
async fn last_activity_is_written_at_most_once_per_period() {
    // Default period (300 s): two checks in a row write nothing.
    let app = spawn_app().await;
    let token = app.verified_user("idle@example.com").await;
    let s1 = app.get("/auth/session", Some(&token)).await.body["session"].clone();
    assert_eq!(s1["lastActiveAt"], s1["createdAt"]);
    assert_eq!(s1["lastIpAddress"], s1["ipAddress"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let s2 = app.get("/auth/session", Some(&token)).await.body["session"].clone();
    assert_eq!(s2["lastActiveAt"], s1["lastActiveAt"]);

    // A one-second period: a use after it records the time again.
    let app = spawn_app_with(&["--session-activity-secs", "1"]).await;
    let token = app.verified_user("busy@example.com").await;
    let s1 = app.get("/auth/session", Some(&token)).await.body["session"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let s2 = app.get("/auth/session", Some(&token)).await.body["session"].clone();
    assert!(
        s2["lastActiveAt"].as_str().unwrap() > s1["lastActiveAt"].as_str().unwrap(),
        "{s1} {s2}"
    );
    let s3 = app.get("/auth/session", Some(&token)).await.body["session"].clone();
    assert_eq!(s3["lastActiveAt"], s2["lastActiveAt"], "once per period");
    // The list agrees with the session check.
    let list = app.get("/auth/list-sessions", Some(&token)).await;
    assert_eq!(list.body["sessions"][0]["lastActiveAt"], s2["lastActiveAt"]);
}

#[tokio::test]
async fn an_expired_session_is_neither_listed_nor_revocable() {
    let app = spawn_app().await;
    let mine = app.verified_user("expired@example.com").await;
    let old = app.sign_in("expired@example.com", PASSWORD).await.token();
    let old_id = app.get("/auth/session", Some(&old)).await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.sql(
        "UPDATE sessions SET expires_at = 1 WHERE id = $1",
        &[&old_id],
    )
    .await;
    let list = app.get("/auth/list-sessions", Some(&mine)).await;
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 1);
    let r = app
        .post(
            "/auth/revoke-session",
            json!({"sessionId": old_id}),
            Some(&mine),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}
