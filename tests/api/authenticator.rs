//! An authenticator app for the tests: TOTP codes computed from the secret latch
//! showed (RFC 6238 through `totp-rs`, independently of latch's own code), each step
//! used once, as latch accepts each step once per user.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

pub struct Authenticator {
    totp: totp_rs::Totp,
    /// The first step not yet used for this user.
    next_step: u64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The current TOTP step.
pub fn step_now() -> u64 {
    now_secs() / 30
}

impl Authenticator {
    /// The app after scanning `secret` (base32).
    pub fn new(secret: &str) -> Authenticator {
        let bytes = totp_rs::Secret::try_from_base32(secret).expect("a base32 secret");
        let totp = totp_rs::Builder::new()
            .with_secret(bytes)
            .build()
            .expect("a TOTP");
        Authenticator { totp, next_step: 0 }
    }

    /// The same user's next authenticator: its steps continue after this one's.
    pub fn replaced_by(&self, secret: &str) -> Authenticator {
        let mut next = Authenticator::new(secret);
        next.next_step = self.next_step;
        next
    }

    /// The code of `step`.
    pub fn code_at(&self, step: u64) -> String {
        self.totp.generate(step * 30).to_string()
    }

    /// [`Self::code`], and `other`'s code of the same step.
    pub async fn code_beside(&mut self, other: &Authenticator) -> (String, String) {
        let code = self.code().await;
        (code, other.code_at(self.next_step - 1))
    }

    /// The first step not used yet (steps before it were spent by earlier codes).
    pub fn unused_from(&self) -> u64 {
        self.next_step
    }

    /// A code latch accepts now and has not seen: the earliest unused step of the three
    /// it accepts, keeping clear of step edges (so latch's clock, read a moment later,
    /// still accepts it); waits for the next step when all three were used.
    pub async fn code(&mut self) -> String {
        loop {
            let now = now_secs();
            let current = now / 30;
            let into = now % 30;
            let mut candidates = Vec::new();
            if into <= 25 {
                candidates.push(current - 1);
            }
            if into <= 28 {
                candidates.push(current);
            }
            candidates.push(current + 1);
            if let Some(step) = candidates.into_iter().find(|s| *s >= self.next_step) {
                self.next_step = step + 1;
                return self.code_at(step);
            }
            tokio::time::sleep(Duration::from_millis((30 - into) * 1000 + 200)).await;
        }
    }
}

/// A wrong code that is not accidentally right (the codes latch accepts now excluded).
pub fn wrong_code(a: &Authenticator) -> String {
    let s = step_now();
    let right: Vec<String> = (s - 2..=s + 2).map(|n| a.code_at(n)).collect();
    (0..1000)
        .map(|i| format!("{:06}", (i * 7919 + 123_457) % 1_000_000))
        .find(|c| !right.contains(c))
        .unwrap()
}

/// Two-factor on for the user of `token` (a fresh session): enroll, confirm with the
/// first code; the authenticator and the ten backup codes.
pub async fn turn_on(app: &TestApp, token: &str) -> (Authenticator, Vec<String>) {
    let e = app
        .post("/auth/two-factor/totp/enroll", json!({}), Some(token))
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    let mut auth = Authenticator::new(e.body["secret"].as_str().unwrap());
    let code = auth.code().await;
    let c = app
        .post(
            "/auth/two-factor/totp/confirm",
            json!({"code": code}),
            Some(token),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    let codes = c.body["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (auth, codes)
}

/// A verified user with two-factor on: (session token, authenticator, backup codes).
pub async fn user_with_2fa(app: &TestApp, email: &str) -> (String, Authenticator, Vec<String>) {
    let token = app.verified_user(email).await;
    let (auth, codes) = turn_on(app, &token).await;
    (token, auth, codes)
}

/// Signs in with the password; asserts the second step is asked and answers its ticket.
pub async fn first_step(app: &TestApp, email: &str, password: &str) -> String {
    let r = app.sign_in(email, password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["twoFactorRequired"], true, "{}", r.text);
    r.body["twoFactor"]["ticket"].as_str().unwrap().to_string()
}

/// `two-factor/verify` with the ticket in the body.
pub async fn verify(app: &TestApp, ticket: &str, code: &str, extra: Value) -> Reply {
    let mut body = json!({"ticket": ticket, "code": code});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    app.post("/auth/two-factor/verify", body, None).await
}
