//! The store below HTTP, on a fresh SQLite file: what must hold under concurrency
//! (lockout counting, the email cap, single-use tokens) and the rule the session memo
//! relies on (every write moves the write generation).

use std::future::Future;

use super::*;
use crate::domain::token_hash;

async fn fresh() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url, Some(4), std::time::Duration::from_secs(10))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

async fn user(store: &Store, email: &str) -> UserId {
    store
        .insert_unverified_user(email, "Test")
        .await
        .unwrap()
        .unwrap()
}

/// Runs `n` copies of `op` at once; how many answered true.
async fn concurrently<F, Fut>(n: usize, op: F) -> usize
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(op())).collect();
    let mut yes = 0;
    for t in tasks {
        yes += usize::from(t.await.unwrap());
    }
    yes
}

#[tokio::test]
async fn every_kind_of_write_moves_the_write_generation() {
    let (store, _dir) = fresh().await;
    let g = || store.pool.generation().load();
    let uid = user(&store, "gen@example.com").await;
    let now = Timestamp::now();
    let mut last = g();
    let mut moved = |what: &str| {
        let current = store.pool.generation().load();
        assert!(current > last, "{what} did not move the generation");
        last = current;
    };
    store.set_password(&uid, Some("h")).await.unwrap();
    moved("set_password");
    let s = store
        .insert_session(NewSession {
            token_hash: &token_hash("th"),
            user_id: &uid,
            auth_methods: &[],
            expires_at: now.plus_secs(60),
            max_expires_at: now.plus_secs(120),
            persistent: true,
            ip_address: None,
            user_agent: None,
        })
        .await
        .unwrap()
        .expect("the user exists");
    moved("insert_session");
    store
        .extend_session(&s.id, now.plus_secs(90))
        .await
        .unwrap();
    moved("extend_session");
    store
        .delete_session_by_token(&token_hash("th"))
        .await
        .unwrap();
    moved("delete_session_by_token");
    store.delete_sessions_of(&uid, None).await.unwrap();
    moved("delete_sessions_of");
    store
        .record_failure("gen@example.com", 900, 5, 900)
        .await
        .unwrap();
    moved("record_failure");
    store.clear_failures("gen@example.com").await.unwrap();
    moved("clear_failures");
    store
        .reserve_email(&uid, "verify-email", 10, None)
        .await
        .unwrap();
    moved("reserve_email");
    store
        .insert_signup_link(NewSignupLink {
            request: &new_request_id(),
            user_id: &uid,
            token_hash: &token_hash("v"),
            password_hash: None,
            name: "Test",
            callback_url: None,
            expires_at: now.plus_secs(60),
        })
        .await
        .unwrap();
    moved("insert_signup_link");
    store.consume_verification(&token_hash("v")).await.unwrap();
    moved("consume_verification");
    store.finalize_setup(&uid, "W", "w-1").await.unwrap();
    moved("finalize_setup");
    store.link(&uid, "test", "sub").await.unwrap();
    moved("link");
    store.unlink(&uid, "test", None).await.unwrap();
    moved("unlink");
    store.purge_expired(900).await.unwrap();
    moved("purge_expired");
}

#[tokio::test]
async fn concurrent_failures_lock_exactly_at_the_threshold() {
    let (store, _dir) = fresh().await;
    let threshold = 5;
    let below_or_at = concurrently(20, || {
        let store = store.clone();
        async move {
            let c = store
                .record_failure("lock@example.com", 900, threshold, 900)
                .await
                .unwrap();
            c.failures <= i64::from(threshold)
        }
    })
    .await;
    assert_eq!(
        below_or_at, threshold as usize,
        "each count is handed out once"
    );
    assert!(
        store
            .locked_until("lock@example.com")
            .await
            .unwrap()
            .is_some()
    );
    store.clear_failures("lock@example.com").await.unwrap();
    assert!(
        store
            .locked_until("lock@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_hourly_cap_holds_under_concurrency() {
    let (store, _dir) = fresh().await;
    let uid = user(&store, "cap@example.com").await;
    let reserved = concurrently(25, || {
        let (store, uid) = (store.clone(), uid.clone());
        async move {
            store
                .reserve_email(&uid, "reset-password", 10, None)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(reserved, 10);
    // The resend cooldown: a verification email within it is refused.
    let (store2, _d2) = fresh().await;
    let uid2 = user(&store2, "cool@example.com").await;
    assert!(
        store2
            .reserve_email(&uid2, "verify-email", 10, None)
            .await
            .unwrap()
    );
    let since = Timestamp(Timestamp::now().millis() - 60_000);
    assert!(
        !store2
            .reserve_email(&uid2, "verify-email", 10, Some(since))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_token_is_consumed_exactly_once() {
    let (store, _dir) = fresh().await;
    let uid = user(&store, "once@example.com").await;
    store
        .insert_token(NewToken {
            purpose: Purpose::ResetPassword,
            user_id: &uid,
            token_hash: &token_hash("r"),
            password_hash: None,
            name: None,
            callback_url: None,
            new_email: None,
            expires_at: Timestamp::now().plus_secs(60),
        })
        .await
        .unwrap();
    let used = concurrently(10, || {
        let store = store.clone();
        async move {
            store
                .consume_reset(&token_hash("r"), "new-hash")
                .await
                .unwrap()
                .is_some()
        }
    })
    .await;
    assert_eq!(used, 1);
    assert_eq!(
        store.password_hash(&uid).await.unwrap().as_deref(),
        Some("new-hash")
    );
}

#[tokio::test]
async fn a_remembered_session_check_sees_every_write_at_once() {
    // The per-thread memo answers a repeated check from memory; any write through the
    // pool must make the next check read again (within the memo's freshness window).
    let (store, _dir) = fresh().await;
    let uid = user(&store, "memo@example.com").await;
    let now = Timestamp::now();
    let hashes: Vec<TokenHash> = ["m1", "m2"].iter().map(|t| token_hash(t)).collect();
    let new = |i: usize| NewSession {
        token_hash: &hashes[i],
        user_id: &uid,
        auth_methods: &[],
        expires_at: now.plus_secs(600),
        max_expires_at: now.plus_secs(1200),
        persistent: true,
        ip_address: None,
        user_agent: None,
    };
    store.insert_session(new(0)).await.unwrap();
    let check = |h: &'static str| {
        let store = store.clone();
        async move { store.session_by_token(&token_hash(h)).await.unwrap() }
    };
    let (_, u) = check("m1").await.expect("a session");
    assert!(!u.has_password);
    assert!(check("m1").await.is_some(), "remembered");
    store.set_password(&uid, Some("h")).await.unwrap();
    let (_, u) = check("m1").await.expect("still a session");
    assert!(u.has_password, "a password set is seen at once");
    store
        .delete_session_by_token(&token_hash("m1"))
        .await
        .unwrap();
    assert!(check("m1").await.is_none(), "a logout is seen at once");
    store.insert_session(new(1)).await.unwrap();
    assert!(check("m2").await.is_some());
    store.delete_sessions_of(&uid, None).await.unwrap();
    assert!(check("m2").await.is_none(), "a revocation is seen at once");
}

#[tokio::test]
async fn the_periodic_purge_removes_expired_email_change_links() {
    let (store, _dir) = fresh().await;
    let uid = user(&store, "purge@example.com").await;
    let long_ago = Timestamp(Timestamp::now().millis() - 40 * 86_400_000);
    for (token, expires_at) in [
        ("old", long_ago),
        ("live", Timestamp::now().plus_secs(3600)),
    ] {
        store
            .insert_token(NewToken {
                purpose: Purpose::ChangeEmail,
                user_id: &uid,
                token_hash: &token_hash(token),
                password_hash: None,
                name: None,
                callback_url: None,
                new_email: Some("new@example.com"),
                expires_at,
            })
            .await
            .unwrap();
    }
    store.purge_expired(900).await.unwrap();
    let pool = store.pool();
    let left: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM one_time_tokens WHERE purpose = 'change-email'")
            .fetch_all(&*pool)
            .await
            .unwrap();
    assert_eq!(left, [token_hash("live").as_str().to_string()]);
}

#[tokio::test]
async fn the_periodic_purge_removes_expired_second_factor_state_and_keeps_live_state() {
    let (store, _dir) = fresh().await;
    let a = user(&store, "expired@example.com").await;
    let b = user(&store, "live@example.com").await;
    let past = Timestamp(Timestamp::now().millis() - 1000);
    let later = Timestamp::now().plus_secs(3600);
    for (uid, expires_at, name) in [(&a, past, "a"), (&b, later, "b")] {
        store
            .start_enrollment(uid, "sealed", expires_at)
            .await
            .unwrap();
        store
            .insert_ticket(NewTicket {
                token_hash: &token_hash(name),
                user_id: uid,
                persistent: true,
                ip_address: None,
                user_agent: None,
                first_factor: "password",
                expires_at,
            })
            .await
            .unwrap();
        store
            .insert_trusted_device(&token_hash(&format!("{name}-device")), uid, expires_at)
            .await
            .unwrap();
    }
    store.purge_expired(900).await.unwrap();
    let pool = store.pool();
    for table in ["two_factor", "two_factor_tickets", "trusted_devices"] {
        let left: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT user_id FROM {table}")))
                .fetch_all(&*pool)
                .await
                .unwrap();
        assert_eq!(left, [b.as_str().to_string()], "{table}");
    }
}
