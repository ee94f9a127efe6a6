//! The client IP behind trusted proxies (contract §1 `LATCH_TRUSTED_PROXIES`) and the
//! rate-limit buckets it selects (§6: IPv6 by /64).

use serde_json::json;

use crate::helpers::*;

async fn forget(app: &TestApp, xff: &str) -> u16 {
    app.send(
        app.client
            .post(app.url("/auth/forget-password"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": "x@example.com"})),
    )
    .await
    .status
    .as_u16()
}

async fn behind_proxy(burst: &str) -> TestApp {
    spawn_app_with(&[
        "--rate-limit-per-sec",
        "1",
        "--rate-limit-burst",
        burst,
        "--trusted-proxies",
        "127.0.0.1/32",
    ])
    .await
}

#[tokio::test]
async fn every_forwarded_form_names_its_client_not_the_proxy() {
    // Each form below names a client of its own: spending one client's quota leaves
    // the others (and the proxy) untouched.
    let app = behind_proxy("2").await;
    for _ in 0..2 {
        assert_eq!(forget(&app, "junk, 203.0.113.66").await, 200);
    }
    assert_eq!(
        forget(&app, "203.0.113.66").await,
        429,
        "same client, spent"
    );
    for form in [
        "198.51.100.7:51234",
        "[2001:db8::1]",
        "[2001:db8:1::1]:443",
        "192.0.2.9,",
        "::ffff:192.0.2.10",
    ] {
        assert_eq!(forget(&app, form).await, 200, "{form}");
        assert_eq!(forget(&app, form).await, 200, "{form}");
        assert_eq!(
            forget(&app, form).await,
            429,
            "{form} has a quota of its own"
        );
    }
    // The proxy's own requests (no header) still have their quota.
    let r = app.sign_in("x@example.com", "x").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn ipv6_clients_of_one_64_share_a_bucket() {
    let app = behind_proxy("20").await;
    let mut statuses = Vec::new();
    for i in 1..=30 {
        statuses.push(forget(&app, &format!("2001:db8:aa:bb::{i:x}")).await);
    }
    // 20 (the burst), or 21 should a second pass while they are sent.
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert!((20..=21).contains(&passed), "{statuses:?}");
    assert_eq!(statuses[29], 429);
    // Another /64 is another client.
    assert_eq!(forget(&app, "2001:db8:aa:bc::1").await, 200);
}
