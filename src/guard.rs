//! Abuse controls in front of credential operations: the per-IP rate limit and the
//! Turnstile bot check (docs/api.md §4 "Credential operations", §6 "Turnstile").
//!
//! Both are called from the service layer, once per operation, so REST and GraphQL
//! draw from one quota per client IP, and each credential mutation in a GraphQL request
//! draws once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use url::Url;

use crate::config::Config;
use crate::error::{AppError, AppResult};

/// The credential flows, named as in `LATCH_TURNSTILE_FLOWS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    SignUp,
    SignIn,
    ForgetPassword,
    ResendVerification,
    ResetPassword,
    ChangePassword,
    SetPassword,
    VerifyEmail,
    Reauthenticate,
    ChangeEmail,
    ConfirmEmailChange,
    DeleteUser,
    EnrollTotp,
    ConfirmTotp,
    VerifyTwoFactor,
    GenerateBackupCodes,
    DisableTwoFactor,
    PasskeyRegisterOptions,
    PasskeyVerifyRegistration,
    /// generate-authenticate-options: the Turnstile-guardable start of a passkey sign-in.
    PasskeySignIn,
    /// sign-in/passkey: the assertion (rate limited; the bot check was at its options).
    PasskeyAssertion,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::SignUp => "sign-up",
            Flow::SignIn => "sign-in",
            Flow::ForgetPassword => "forget-password",
            Flow::ResendVerification => "resend-verification",
            Flow::ResetPassword => "reset-password",
            Flow::ChangePassword => "change-password",
            Flow::SetPassword => "set-password",
            Flow::VerifyEmail => "verify-email",
            Flow::Reauthenticate => "reauthenticate",
            Flow::ChangeEmail => "change-email",
            Flow::ConfirmEmailChange => "confirm-email-change",
            Flow::DeleteUser => "delete-user",
            Flow::EnrollTotp => "two-factor-enroll",
            Flow::ConfirmTotp => "two-factor-confirm",
            Flow::VerifyTwoFactor => "two-factor-verify",
            Flow::GenerateBackupCodes => "generate-backup-codes",
            Flow::DisableTwoFactor => "two-factor-disable",
            Flow::PasskeyRegisterOptions => "passkey-register-options",
            Flow::PasskeyVerifyRegistration => "passkey-verify-registration",
            Flow::PasskeySignIn => "passkey-sign-in",
            Flow::PasskeyAssertion => "passkey-assertion",
        }
    }
}

/// Longest Turnstile token sent to the verifier; longer ones are refused outright.
pub const MAX_TURNSTILE_TOKEN: usize = 2048;
/// The verifier must answer within this time, else the check fails (fail closed).
pub const TURNSTILE_TIMEOUT: Duration = Duration::from_secs(5);

/// Rate limiter and bot check, shared by every request.
#[derive(Clone)]
pub struct Guard {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    turnstile: Option<Turnstile>,
}

#[derive(Clone)]
struct Turnstile {
    secret: crate::secret::Secret<String>,
    verify_url: Url,
    flows: Vec<String>,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct SiteVerify {
    success: bool,
}

impl Guard {
    pub fn from_config(cfg: &Config) -> anyhow::Result<Guard> {
        let limiter = NonZeroU32::new(cfg.rate_limit_per_sec).map(|per_sec| {
            let burst = NonZeroU32::new(cfg.rate_limit_burst).unwrap_or(per_sec);
            Arc::new(RateLimiter::keyed(
                Quota::per_second(per_sec).allow_burst(burst),
            ))
        });
        let turnstile = match &cfg.turnstile_secret {
            Some(secret) => Some(Turnstile {
                secret: secret.clone(),
                verify_url: cfg.turnstile_verify_url.clone(),
                flows: cfg.turnstile_flows.clone(),
                client: reqwest::Client::builder()
                    .timeout(TURNSTILE_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()?,
            }),
            None => None,
        };
        Ok(Guard { limiter, turnstile })
    }

    /// Draws one request from the client's quota; 429 with `Retry-After` when empty.
    pub fn rate_limit(&self, ip: Option<IpAddr>) -> AppResult<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        // Without a peer address (in-process callers) all share one key.
        let key = bucket(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }

    /// Forgets idle clients' limiter state; called periodically.
    pub fn purge(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Verifies the Turnstile token when the bot check is enabled for `flow`.
    /// Missing, over-long, rejected or unverifiable tokens are 403 `BOT_CHECK_FAILED`.
    pub async fn bot_check(
        &self,
        flow: Flow,
        token: Option<&str>,
        ip: Option<IpAddr>,
    ) -> AppResult<()> {
        let Some(t) = &self.turnstile else {
            return Ok(());
        };
        if !t.flows.iter().any(|f| f == flow.name()) {
            return Ok(());
        }
        let token = token.map(str::trim).filter(|s| !s.is_empty());
        let Some(token) = token else {
            return Err(bot_check_failed(flow));
        };
        if token.len() > MAX_TURNSTILE_TOKEN {
            return Err(bot_check_failed(flow));
        }
        let mut form = vec![
            ("secret", t.secret.expose().clone()),
            ("response", token.to_string()),
        ];
        if let Some(ip) = ip {
            form.push(("remoteip", ip.to_string()));
        }
        let outcome = t
            .client
            .post(t.verify_url.clone())
            .form(&form)
            .send()
            .await
            .and_then(|r| r.error_for_status());
        let passed = match outcome {
            Ok(res) => res
                .json::<SiteVerify>()
                .await
                .map(|v| v.success)
                .unwrap_or(false),
            Err(e) => {
                // Fail closed; the error names the verifier, never the token or secret.
                tracing::warn!(error = %e.without_url(), "turnstile verifier unreachable");
                false
            }
        };
        if passed {
            Ok(())
        } else {
            Err(bot_check_failed(flow))
        }
    }
}

/// The rate-limit bucket of a client (docs/api.md §6): an IPv4 address as it is, an IPv6
/// address by its /64 prefix, since one subscriber usually holds a whole /64 and could
/// otherwise take a fresh quota with every address in it.
fn bucket(ip: IpAddr) -> IpAddr {
    match crate::web::canonical(ip) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

fn bot_check_failed(flow: Flow) -> AppError {
    metrics::counter!(crate::telemetry::names::BOT_CHECK_FAILURES, "flow" => flow.name())
        .increment(1);
    AppError::bot_check_failed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64_bucket_and_ipv4_is_per_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(other));
        assert_eq!(bucket(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(bucket(v4), v4);
        assert_ne!(bucket(v4), bucket("198.51.100.8".parse().unwrap()));
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(bucket(mapped), v4);
    }
}
