//! Hostile input: every route answers junk with a 4xx from the contract, never a 5xx
//! or a hang. Inputs are generated from a fixed seed so a failure reproduces.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) const POST_ROUTES: &[&str] = &[
    "/auth/sign-up/email",
    "/auth/sign-in/email",
    "/auth/logout",
    "/auth/sign-out",
    "/auth/forget-password",
    "/auth/reset-password",
    "/auth/change-password",
    "/auth/set-password",
    "/auth/resend-verification",
    "/auth/unlink-provider",
    "/auth/reauthenticate",
    "/auth/revoke-session",
    "/auth/revoke-other-sessions",
    "/auth/update-user",
    "/auth/change-email",
    "/auth/two-factor/totp/enroll",
    "/auth/two-factor/totp/confirm",
    "/auth/two-factor/verify",
    "/auth/two-factor/generate-backup-codes",
    "/auth/two-factor/disable",
    "/graphql",
    // Last: junk that parses as `{}` on a fresh session deletes the target account.
    "/auth/delete-user",
];

const GET_ROUTES: &[&str] = &[
    "/auth/session",
    "/auth/me",
    "/auth/verify-email",
    "/auth/linked-accounts",
    "/auth/two-factor/status",
    "/auth/list-sessions",
    "/auth/confirm-email-change",
    "/reset-password",
    "/graphql",
];

const FIELDS: &[&str] = &[
    "email",
    "password",
    "name",
    "callbackURL",
    "rememberMe",
    "redirectTo",
    "token",
    "newPassword",
    "currentPassword",
    "revokeOtherSessions",
    "provider",
    "accountId",
    "turnstileToken",
    "newEmail",
    "sessionId",
    "image",
    "code",
    "ticket",
    "trustDevice",
    "trustedDeviceToken",
    "twoFactorCallbackURL",
    "query",
    "variables",
    "operationName",
];

/// xorshift64*: deterministic junk without a dependency.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.next() % 11 {
            0 => Value::Null,
            1 => json!(self.next().is_multiple_of(2)),
            2 => json!(self.next() as i64),
            3 => json!(1e308 * 10.0_f64.min(1.0)),
            4 => json!("a\u{0000}b@example.com"),
            5 => json!("x".repeat(70_000 / 4)),
            6 => json!("ü\u{202e}\u{feff}😀 %00 ' \" ; -- <script>"),
            7 if depth < 3 => json!([self.value(depth + 1), self.value(depth + 1)]),
            8 if depth < 3 => {
                let k = FIELDS[(self.next() % FIELDS.len() as u64) as usize];
                json!({ k: self.value(depth + 1) })
            }
            9 => json!(-0.0),
            _ => json!(""),
        }
    }
}

fn deep_nesting(levels: usize) -> Vec<u8> {
    let mut s = String::new();
    s.push_str("{\"email\":");
    s.push_str(&"[".repeat(levels));
    s.push_str(&"]".repeat(levels));
    s.push('}');
    s.into_bytes()
}

fn assert_4xx(r: &Reply, what: &str) {
    assert!(
        r.status.is_client_error() || r.status.is_success(),
        "{what}: {} {}",
        r.status,
        r.text.chars().take(300).collect::<String>()
    );
    if r.status.is_client_error() {
        let code = &r.body["code"];
        assert!(
            code.is_string(),
            "{what}: 4xx without the contract body: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn junk_bodies_get_4xx_never_5xx() {
    let app = spawn_app().await;
    let token = app.verified_user("target@example.com").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut junk = Junk(0x0005_eed1_a7c4_u64);
    for route in POST_ROUTES {
        let url = app.url(route);
        let mut bodies: Vec<(&str, Vec<u8>)> = vec![
            ("random bytes", junk.bytes(300)),
            ("invalid utf-8", vec![b'{', b'"', 0xc3, 0x28, b'"', b':', b'1', b'}']),
            ("NUL", b"{\"email\":\"\0\"}\0".to_vec()),
            ("deep nesting", deep_nesting(100_000)),
            ("huge number", b"{\"email\": 1e999999, \"rememberMe\": 123456789012345678901234567890}".to_vec()),
            ("overlong strings", serde_json::to_vec(&json!({
                "email": "e".repeat(30_000), "password": "p".repeat(30_000), "token": "t".repeat(3_000)
            })).unwrap()),
        ];
        for _ in 0..25 {
            let mut obj = serde_json::Map::new();
            for f in FIELDS {
                if junk.next().is_multiple_of(2) {
                    obj.insert((*f).to_string(), junk.value(0));
                }
            }
            bodies.push((
                "typed junk",
                serde_json::to_vec(&Value::Object(obj)).unwrap(),
            ));
        }
        for (what, body) in bodies {
            for with_session in [false, true] {
                let mut req = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if with_session {
                    req = req.header("cookie", format!("session_token={token}"));
                }
                let res = req
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{route} {what}: {e}"));
                let status = res.status();
                let text = res.text().await.unwrap_or_default();
                let reply = Reply {
                    status,
                    headers: Default::default(),
                    body: serde_json::from_str(&text).unwrap_or(Value::Null),
                    text,
                };
                if *route == "/graphql" && status == 200 {
                    continue; // GraphQL errors travel in a 200 body.
                }
                assert_4xx(&reply, &format!("POST {route} {what}"));
            }
        }
    }
    // The account is intact (the session itself may have been logged out by junk that
    // happened to be a valid logout).
    assert_eq!(
        app.sign_in("target@example.com", PASSWORD).await.status,
        200
    );
}

#[tokio::test]
async fn junk_queries_and_headers_get_4xx_never_5xx() {
    let app = spawn_app().await;
    let mut junk = Junk(42);
    for route in GET_ROUTES {
        let queries = [
            "?token=%00%ff%fe".to_string(),
            format!("?token={}", "a".repeat(10_000)),
            "?callbackURL=javascript:alert(1)&token=x".to_string(),
            "?callbackURL=%0d%0aSet-Cookie:x=1&token=x".to_string(),
            "?query=mutation%20%7B%20logout%20%7D".to_string(),
            "?query=%7B&variables=%7Bnot-json".to_string(),
            format!("?token={}", junk.next()),
        ];
        for q in queries {
            let r = app.get(&format!("{route}{q}"), None).await;
            if r.status == 200 || r.status == 302 {
                continue;
            }
            assert_4xx(&r, &format!("GET {route}{q}"));
        }
        for cookie in [
            "session_token=",
            "session_token=%00",
            "session_token=ak_x",
            &format!("session_token={}", "z".repeat(5000)),
        ] {
            let r = app
                .send(app.client.get(app.url(route)).header("cookie", cookie))
                .await;
            assert!(
                r.status.as_u16() < 500,
                "GET {route} cookie {cookie}: {}",
                r.status
            );
        }
        let r = app
            .send(
                app.client
                    .get(app.url(route))
                    .header("authorization", "Bearer \t ak_ weird"),
            )
            .await;
        assert!(r.status.as_u16() < 500, "GET {route} bearer: {}", r.status);
    }
}
