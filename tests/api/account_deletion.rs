//! delete-user (docs/api.md §11.4) and the operator commands (§1), as an operator
//! runs them.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn delete_user_leaves_no_row_of_the_user_and_hands_workspaces_over() {
    let app = spawn_app().await;
    let token = app.verified_user("leaver@example.com").await;
    let uid = app.user_id(&token).await;
    let admin = app.verified_user("admin@example.com").await;
    let member = app.verified_user("member@example.com").await;
    let (admin_id, member_id) = (app.user_id(&admin).await, app.user_id(&member).await);
    // A shared workspace the leaver owns: the admin (joined later than the member)
    // is preferred over the longer-standing member.
    app.sql(
        "INSERT INTO workspaces (id, name, slug, created_at) VALUES ('shared', 'Shared', 'shared', 1)",
        &[],
    )
    .await;
    for (user, role, at) in [
        (&uid, "owner", "1"),
        (&member_id, "member", "2"),
        (&admin_id, "admin", "3"),
    ] {
        app.sql(
            &format!(
                "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) \
                 VALUES ('shared', $1, $2, {at})"
            ),
            &[user, role],
        )
        .await;
    }
    app.link_identity(&uid, "github", "gh-leaver").await;
    app.sign_in("leaver@example.com", PASSWORD).await;
    app.post(
        "/auth/sign-in/email",
        json!({"email": "leaver@example.com", "password": "wrong"}),
        None,
    )
    .await;
    let personal = app.get("/auth/me", Some(&token)).await.body["activeWorkspaceId"]
        .as_str()
        .unwrap()
        .to_string();

    let r = app
        // A fresh session needs no proof, so nothing clears the failure count first.
        .post("/auth/delete-user", json!({}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"success": true}));
    assert!(r.session_cookie().is_some_and(|c| c.contains("Max-Age=0")));
    let cleared: Vec<_> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.contains("Max-Age=0"))
        .filter_map(|c| c.split('=').next())
        .collect();
    assert_eq!(
        cleared,
        ["session_token", "two_factor_ticket", "trusted_device"]
    );
    assert_eq!(app.get("/auth/session", Some(&token)).await.status, 401);

    // Every column of every table: nothing holds the user's id or address any more.
    let columns = app.columns().await;
    assert!(columns.len() > 30, "{columns:?}");
    for (table, column) in columns {
        let n = app
            .sql_count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) \
                 IN ('{uid}', 'leaver@example.com')"
            ))
            .await;
        assert_eq!(n, 0, "the user is left in {table}.{column}");
    }
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM workspaces WHERE id = '{personal}'"
        ))
        .await,
        0,
        "the personal workspace, whose only member left, is gone"
    );
    assert_eq!(
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM workspace_members WHERE workspace_id = 'shared' \
             AND user_id = '{admin_id}' AND role = 'owner'"
        ))
        .await,
        1,
        "the admin became owner"
    );
    app.wait_notice("leaver@example.com", "account-deleted")
        .await;
    // The address is free for a new sign-up.
    app.sign_up("leaver@example.com", PASSWORD, "Back Again")
        .await;
}

#[tokio::test]
async fn delete_user_through_graphql_and_with_a_concurrent_sign_in() {
    let app = spawn_app().await;
    let token = app.verified_user("gql-leaver@example.com").await;
    // Sign-ins race the deletion: whatever wins, no session of a deleted user remains.
    let (statuses, g) = tokio::join!(
        app.concurrent(4, || {
            app.client
                .post(app.url("/auth/sign-in/email"))
                .json(&json!({"email": "gql-leaver@example.com", "password": PASSWORD}))
        }),
        app.gql(
            "mutation { deleteUser(input: {password: \"correct horse battery staple\"}) { success } }",
            json!({}),
            Some(&token),
        )
    );
    assert_eq!(g.body["data"]["deleteUser"]["success"], true, "{}", g.text);
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM users WHERE email = 'gql-leaver@example.com'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_workspace_passes_to_its_longest_standing_member_or_stays_with_its_owners() {
    let app = spawn_app().await;
    let leaver = app.verified_user("owner1@example.com").await;
    let co_owner = app.verified_user("owner2@example.com").await;
    let member = app.verified_user("plain@example.com").await;
    let newer = app.verified_user("newer@example.com").await;
    let ids = [
        app.user_id(&leaver).await,
        app.user_id(&co_owner).await,
        app.user_id(&member).await,
        app.user_id(&newer).await,
    ];
    for ws in ["solo-heir", "co-owned"] {
        app.sql(
            &format!("INSERT INTO workspaces (id, name, slug, created_at) VALUES ('{ws}', '{ws}', '{ws}', 1)"),
            &[],
        )
        .await;
    }
    for (ws, user, role, at) in [
        ("solo-heir", &ids[0], "owner", 1),
        ("solo-heir", &ids[3], "member", 3),
        ("solo-heir", &ids[2], "member", 2),
        ("co-owned", &ids[0], "owner", 1),
        ("co-owned", &ids[1], "owner", 2),
        ("co-owned", &ids[2], "member", 3),
    ] {
        app.sql(
            &format!(
                "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) \
                 VALUES ('{ws}', $1, '{role}', {at})"
            ),
            &[user],
        )
        .await;
    }
    let r = app
        .post("/auth/delete-user", json!({}), Some(&leaver))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let role = async |ws: &str, user: &str| {
        app.sql_count(&format!(
            "SELECT COUNT(*) FROM workspace_members WHERE workspace_id = '{ws}' \
             AND user_id = '{user}' AND role = 'owner'"
        ))
        .await
    };
    assert_eq!(
        role("solo-heir", &ids[2]).await,
        1,
        "the longest-standing member"
    );
    assert_eq!(role("solo-heir", &ids[3]).await, 0);
    assert_eq!(role("co-owned", &ids[1]).await, 1);
    assert_eq!(
        role("co-owned", &ids[2]).await,
        0,
        "another owner exists: no change"
    );
}

/// Runs `latch users ARGS` against the app's database and outbox, as an operator would.
pub(crate) fn operator(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("users")
        .args(args)
        .env("DATABASE_URL", &app.db_url)
        .env("LATCH_MAIL_OUTBOX", &app.outbox)
        .env(
            "LATCH_SECRET_KEY_FILE",
            app.outbox.with_file_name("latch.key"),
        )
        .env("LATCH_LOG", "warn")
        .output()
        .expect("the latch binary runs")
}

#[tokio::test]
async fn operator_commands_act_on_one_account_and_refuse_an_unknown_email() {
    let app = spawn_app_with(&["--lockout-threshold", "2"]).await;
    let a = app.verified_user("op@example.com").await;
    let b = app.sign_in("op@example.com", PASSWORD).await.token();

    let out = operator(&app, &["revoke-sessions", "OP@example.com"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "revoked 2 session(s) of OP@example.com"
    );
    for t in [&a, &b] {
        assert_eq!(app.get("/auth/session", Some(t)).await.status, 401);
    }

    for _ in 0..3 {
        app.sign_in("op@example.com", "wrong password").await;
    }
    assert_eq!(app.sign_in("op@example.com", PASSWORD).await.status, 423);
    let out = operator(&app, &["unlock", "op@example.com"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(app.sign_in("op@example.com", PASSWORD).await.status, 200);

    let out = operator(&app, &["reset-two-factor", "op@example.com"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        app.notices_to("op@example.com")
            .contains(&"two-factor-reset".to_string())
    );

    for cmd in ["revoke-sessions", "unlock", "reset-two-factor"] {
        let out = operator(&app, &[cmd, "nobody@example.com"]);
        assert!(!out.status.success(), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("no account with email nobody@example.com"),
            "{cmd}: {out:?}"
        );
    }
}
