//! The service layer: every account and session operation, called by both the REST
//! handlers and the GraphQL resolvers, so the two doors share checks, side effects and
//! error codes. Nothing here knows about HTTP or GraphQL.

mod accounts;
pub mod commands;
mod linked;
mod operator;
mod passkeys;
mod passwords;
mod profile;
mod second_step;
mod sessions;
mod social;
mod stepup;
mod two_factor;
mod views;

pub use crate::domain::RequestMeta;
pub use passkeys::Ceremony;
pub use second_step::{Challenge, DeviceCookie, SignInOutcome, SignInStep};
pub use social::{CallbackFailure, CallbackOutcome};
pub use two_factor::Enrollment;
pub use views::{Account, LinkedMethod, Methods, TwoFactorState};

use std::sync::Arc;

use anyhow::Context;
use url::Url;

use crate::config::Config;
use crate::domain::{
    Email, MAX_TOKEN_LEN, Password, SessionId, Timestamp, UserId, new_token, token_hash,
    usable_token,
};
use crate::error::{AppError, AppResult, Kind};
use crate::guard::{Flow, Guard};
use crate::mail::{self, Mailer, Notice};
use crate::oidc::Providers;
use crate::password::{Hasher, Policy};
use crate::redirect::{parse_optional, with_query};
use crate::sealing::SealingKey;
use crate::store::{
    NewSession, NewSignupLink, NewToken, Purpose, SessionRow, Store, UserRow, new_request_id,
};
use crate::telemetry::names;
use commands::Submission;

/// Verification links live 24 h; reset links 1 h (docs/api.md §4).
const VERIFY_TTL_SECS: u64 = 24 * 3600;
const RESET_TTL_SECS: u64 = 3600;
/// No account receives more than this many emails an hour, whatever the flow.
const HOURLY_EMAIL_CAP: i64 = 10;
/// At most one verification email a minute per account.
const RESEND_COOLDOWN_SECS: i64 = 60;
/// A `rememberMe: false` session lives at most one day.
const SHORT_SESSION_SECS: u64 = 86_400;

/// Everything the operations need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: Config,
    store: Store,
    hasher: Hasher,
    policy: Policy,
    mailer: Mailer,
    guard: Guard,
    providers: Providers,
    key: SealingKey,
    /// `None` while passkeys are off (`LATCH_WEBAUTHN_RP_ID` is an IP address).
    party: Option<crate::webauthn::Party>,
}

/// What a session check did to the session's lifetime: a door that carries the session
/// in a cookie re-issues the cookie when the session was extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Unchanged,
    Extended,
}

/// The caller's session, resolved from a cookie or bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserRow,
    pub session: SessionRow,
    /// What this check did to the session's lifetime.
    pub refresh: Refresh,
}

/// A session just created, with its secret token (shown once, then only its hash exists).
#[derive(Clone)]
pub struct SignedIn {
    pub user: UserRow,
    pub session: SessionRow,
    pub token: String,
}

/// A sign-up request about to get a verification link.
pub(crate) struct SignupLink {
    request: String,
    password_hash: Option<String>,
    name: String,
    callback: Option<Url>,
}

/// Outcome of following a verification link.
pub struct Verified {
    pub signed_in: SignedIn,
    /// Where to send the browser, when the request named a `callbackURL`.
    pub redirect: Option<Url>,
}

impl AppState {
    pub fn new(
        cfg: Config,
        store: Store,
        hasher: Hasher,
        mailer: Mailer,
        guard: Guard,
        providers: Providers,
        key: SealingKey,
    ) -> anyhow::Result<AppState> {
        let policy = Policy::from_config(&cfg);
        let party = match &cfg.passkeys.relying_party {
            Ok(rp) => Some(crate::webauthn::Party::new(rp)?),
            Err(_) => None,
        };
        Ok(AppState {
            inner: Arc::new(Inner {
                cfg,
                store,
                hasher,
                policy,
                mailer,
                guard,
                providers,
                key,
                party,
            }),
        })
    }

    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// The gate of every credential operation, before anything else it does: one draw
    /// from the client's rate-limit quota, then the bot check when enabled for `flow`
    /// (token from the `X-Turnstile-Token` header, else the body's `turnstileToken`).
    async fn gate(
        &self,
        flow: Flow,
        meta: &RequestMeta,
        body_token: Option<&str>,
    ) -> AppResult<()> {
        let guard = &self.inner.guard;
        guard.rate_limit(meta.ip)?;
        let token = meta.turnstile_token.as_deref().or(body_token);
        guard.bot_check(flow, token, meta.ip).await
    }

    /// The gate, then the parse of the door's input into its command: a malformed
    /// request spends quota like any other.
    async fn admit<C>(
        &self,
        flow: Flow,
        meta: &RequestMeta,
        input: impl Submission<C>,
    ) -> AppResult<C> {
        self.gate(flow, meta, input.turnstile_token()).await?;
        input.into_command(&self.inner.policy)
    }

    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// The configured social providers.
    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Checks an optional redirect target against the allowlist (docs/api.md §4).
    pub fn redirect(&self, raw: Option<&str>) -> AppResult<Option<Url>> {
        let cfg = &self.inner.cfg;
        parse_optional(raw, &cfg.app_url, &cfg.allowed_origins)
    }

    /// The sign-in methods a page can offer (docs/api.md §4 `sign-in-methods`): no
    /// session needed, nothing secret (the Turnstile secret never leaves latch).
    pub fn sign_in_methods(&self) -> Methods {
        let cfg = &self.inner.cfg;
        let mut providers: Vec<(String, String)> = cfg
            .oidc_providers
            .iter()
            .map(|p| (p.name.clone(), p.display_name.clone()))
            .collect();
        providers.sort();
        Methods {
            password: true,
            passkey: self.inner.party.is_some(),
            providers,
            turnstile: cfg
                .turnstile_secret
                .as_ref()
                .map(|_| (cfg.turnstile_site_key.clone(), cfg.turnstile_flows.clone())),
        }
    }

    /// Whether the database answers.
    pub async fn healthy(&self) -> bool {
        self.inner.store.ping().await
    }
}

crate::debug_redacted!(SignedIn { user, session } hiding { token });
