//! The service layer: every account and session operation, called by both the REST
//! handlers and the GraphQL resolvers, so the two doors share checks, side effects and
//! error codes. Nothing here knows about HTTP or GraphQL.

mod social;

pub use social::{CallbackFailure, CallbackOutcome};

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context;
use url::Url;

use crate::config::Config;
use crate::domain::{Email, MAX_TOKEN_LEN, Name, Password, Timestamp, new_token, token_hash};
use crate::error::{AppError, AppResult};
use crate::guard::{Flow, Guard};
use crate::inputs;
use crate::mail::{self, Mailer};
use crate::model::{
    LinkedAccount, Me, Session, SessionInfo, SignInMethods, SignInProvider, SignInResult,
    SignUpResult, TurnstileMethod, TwoFactorStatus, User, VerifyEmailResult, Workspace,
};
use crate::oidc::Providers;
use crate::password::{Hasher, Policy};
use crate::redirect::{parse_optional, with_query};
use crate::store::{
    NewSession, NewSignupLink, NewToken, Purpose, SessionRow, Store, UserRow, new_request_id,
};
use crate::telemetry::names;

/// Verification links live 24 h; reset links 1 h (contract §4).
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
}

/// Facts about the HTTP request that operations record or check.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The `X-Turnstile-Token` header.
    pub turnstile_token: Option<String>,
}

/// The caller's session, resolved from a cookie or bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserRow,
    pub session: SessionRow,
    /// Set when this request extended the session: the cookie should be re-issued with
    /// this Max-Age (seconds), or as a browser-session cookie when `None` inside.
    pub extended: Option<Option<i64>>,
}

/// A session just created, with its secret token (shown once, then only its hash exists).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: UserRow,
    pub session: SessionRow,
    pub token: String,
    /// Max-Age of the cookie in seconds; `None` for a browser-session cookie.
    pub cookie_max_age: Option<i64>,
}

impl SignedIn {
    pub fn to_result(&self) -> SignInResult {
        SignInResult {
            user: User::from(&self.user),
            session: Session::from(&self.session),
            token: self.token.clone(),
        }
    }

    pub fn to_verify_result(&self) -> VerifyEmailResult {
        VerifyEmailResult {
            user: User::from(&self.user),
            session: Session::from(&self.session),
        }
    }
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
    ) -> AppState {
        let policy = Policy::from_config(&cfg);
        AppState {
            inner: Arc::new(Inner {
                cfg,
                store,
                hasher,
                policy,
                mailer,
                guard,
                providers,
            }),
        }
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

    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Checks an optional redirect target against the allowlist (contract §4).
    pub fn redirect(&self, raw: Option<&str>) -> AppResult<Option<Url>> {
        let cfg = &self.inner.cfg;
        parse_optional(raw, &cfg.app_url, &cfg.allowed_origins)
    }

    // ---- sign-up and verification -------------------------------------------------

    /// Creates an unverified account (or finds the unverified one) and mails a
    /// verification link bound to this request's password and name.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(
        &self,
        input: inputs::SignUpEmail,
        meta: &RequestMeta,
    ) -> AppResult<SignUpResult> {
        self.gate(Flow::SignUp, meta, input.turnstile_token.as_deref())
            .await?;
        // Every invalid field is reported at once.
        let email = Email::parse(&input.email, "email");
        let name = Name::parse(&input.name);
        let password = Password::new(&input.password);
        let pw_check = match &email {
            Ok(e) => self.inner.policy.check(
                &password,
                e,
                name.as_ref().map(|n| n.as_str()).ok(),
                "password",
            ),
            Err(_) => Ok(()),
        };
        merge_validation([
            email.as_ref().err(),
            name.as_ref().err(),
            pw_check.as_ref().err(),
        ])?;
        let (email, name) = (email?, name?);
        let callback = self.redirect(input.callback_url.as_deref())?;

        let store = &self.inner.store;
        let user = match store
            .insert_unverified_user(email.as_str(), name.as_str())
            .await?
        {
            Some(id) => store.user_by_id(&id).await?,
            None => store.user_by_email(email.as_str()).await?,
        }
        .context("user vanished during sign-up")?;
        if user.email_verified {
            // Deliberate (contract §4): a verified email is a 409, guarded by Turnstile
            // and the rate limit.
            return Err(AppError::user_exists());
        }
        let hash = self.inner.hasher.hash(&password).await?;
        // Every sign-up is a request of its own (at most five stay outstanding). A
        // sign-up email is sent even within the resend cooldown; past the hourly cap
        // nothing is sent or recorded.
        if store
            .reserve_email(&user.id, "verify-email", HOURLY_EMAIL_CAP, None)
            .await?
        {
            let request = SignupLink {
                request: new_request_id(),
                password_hash: Some(hash),
                name: name.as_str().to_string(),
                callback,
            };
            self.issue_verification(&user, &request).await?;
        }
        metrics::counter!(names::SIGN_UPS).increment(1);
        Ok(SignUpResult {
            user: User::from(&user),
            verification_sent: true,
        })
    }

    /// Stores a verification link of a sign-up request and mails it (delivery runs in
    /// the background).
    async fn issue_verification(&self, user: &UserRow, request: &SignupLink) -> AppResult<()> {
        let token = new_token();
        self.inner
            .store
            .insert_signup_link(NewSignupLink {
                request: &request.request,
                user_id: &user.id,
                token_hash: &token_hash(&token),
                password_hash: request.password_hash.as_deref(),
                name: &request.name,
                callback_url: request.callback.as_ref().map(Url::as_str),
                expires_at: Timestamp::now().plus_secs(VERIFY_TTL_SECS),
            })
            .await?;
        let mut link = self
            .inner
            .cfg
            .public_url
            .join("/auth/verify-email")
            .context("verification link")?;
        link.query_pairs_mut().append_pair("token", &token);
        if let Some(cb) = &request.callback {
            link.query_pairs_mut()
                .append_pair("callbackURL", cb.as_str());
        }
        self.send_in_background(
            &user.email,
            "verify-email",
            mail::verification_email(&request.name, link.as_str()),
        );
        Ok(())
    }

    fn send_in_background(&self, to: &str, kind: &'static str, email: mail::Email) {
        let mailer = self.inner.mailer.clone();
        let to = to.to_string();
        tokio::spawn(async move {
            let outcome = match mailer.send(&to, email).await {
                Ok(()) => "sent",
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), kind, "email not sent");
                    "failed"
                }
            };
            metrics::counter!(names::EMAILS, "kind" => kind, "outcome" => outcome).increment(1);
        });
    }

    /// Follows a verification link: verifies with the link's password and name, voids
    /// every other link, finalizes setup once, and signs in.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(
        &self,
        token: &str,
        callback_url: Option<&str>,
        meta: &RequestMeta,
    ) -> AppResult<Verified> {
        self.gate(Flow::VerifyEmail, meta, None).await?;
        // A foreign callbackURL consumes nothing.
        let redirect = self.redirect(callback_url)?;
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AppError::invalid_token());
        }
        let store = &self.inner.store;
        let consumed = store
            .consume_verification(&token_hash(token))
            .await?
            .ok_or_else(AppError::invalid_token)?;
        if !consumed.password_applied {
            tracing::info!("verified by a link without applying a password");
        }
        let user = store
            .user_by_id(&consumed.user_id)
            .await?
            .context("verified user vanished")?;
        self.finalize_setup(&user).await?;
        let user = store
            .user_by_id(&user.id)
            .await?
            .context("verified user vanished")?;
        let signed_in = self.start_session(user, true, meta).await?;
        Ok(Verified {
            signed_in,
            redirect,
        })
    }

    /// Creates the personal workspace, exactly once per user.
    async fn finalize_setup(&self, user: &UserRow) -> AppResult<()> {
        if user.personal_workspace_id.is_some() {
            return Ok(());
        }
        let name = format!("{}'s workspace", user.name);
        self.inner
            .store
            .finalize_setup(&user.id, &name, &workspace_slug(&user.name))
            .await?;
        Ok(())
    }

    /// Mails a new verification link to an unverified account, at most once a minute;
    /// answers the same whatever the account's state (the work runs in the background).
    #[tracing::instrument(skip_all)]
    pub async fn resend_verification(
        &self,
        input: inputs::ResendVerification,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        self.gate(
            Flow::ResendVerification,
            meta,
            input.turnstile_token.as_deref(),
        )
        .await?;
        let email = Email::parse(&input.email, "email")?;
        let callback = self.redirect(input.callback_url.as_deref())?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.resend_work(email, callback).await {
                e.log();
            }
        });
        Ok(())
    }

    async fn resend_work(&self, email: Email, callback: Option<Url>) -> AppResult<()> {
        let store = &self.inner.store;
        let Some(user) = store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if user.email_verified {
            return Ok(());
        }
        let Some(newest) = store.newest_signup(&user.id).await? else {
            return Ok(());
        };
        let cooldown = Timestamp(Timestamp::now().millis() - RESEND_COOLDOWN_SECS * 1000);
        if !store
            .reserve_email(&user.id, "verify-email", HOURLY_EMAIL_CAP, Some(cooldown))
            .await?
        {
            return Ok(());
        }
        // The same request, not a new one: its password, name and callback.
        let request = SignupLink {
            request: newest.request,
            password_hash: newest.password_hash,
            name: newest.name.unwrap_or_else(|| user.name.clone()),
            callback: callback.or_else(|| newest.callback_url.and_then(|c| Url::parse(&c).ok())),
        };
        self.issue_verification(&user, &request).await
    }

    // ---- sign-in and sessions -------------------------------------------------------

    /// Email and password sign-in with lockout (contract §4, §6).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        input: inputs::SignInEmail,
        meta: &RequestMeta,
    ) -> AppResult<SignedIn> {
        let result = self.sign_in_checked(input, meta).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.reason.unwrap_or(e.code),
        };
        metrics::counter!(names::SIGN_INS, "outcome" => outcome.to_ascii_lowercase()).increment(1);
        result
    }

    async fn sign_in_checked(
        &self,
        input: inputs::SignInEmail,
        meta: &RequestMeta,
    ) -> AppResult<SignedIn> {
        self.gate(Flow::SignIn, meta, input.turnstile_token.as_deref())
            .await?;
        let email = Email::parse(&input.email, "email")?;
        let password = Password::new(&input.password);
        let cfg = &self.inner.cfg;
        let store = &self.inner.store;
        let hasher = &self.inner.hasher;
        self.check_lock(&email).await?;

        let user = store.user_by_email(email.as_str()).await?;
        let ok = match &user {
            Some(u) if u.email_verified => match &u.password_hash {
                Some(h) => hasher.verify(&password, h).await?,
                None => hasher.verify_dummy(&password).await?,
            },
            Some(u) => {
                // Unverified: only the newest outstanding sign-up request's password
                // is compared (one hash, as for any account); it is "not verified
                // yet", neither a failure nor a success for lockout.
                match store.newest_outstanding_signup_hash(&u.id).await? {
                    Some(h) => {
                        if hasher.verify(&password, &h).await? {
                            return Err(AppError::email_not_verified());
                        }
                    }
                    None => {
                        hasher.verify_dummy(&password).await?;
                    }
                }
                false
            }
            None => hasher.verify_dummy(&password).await?,
        };
        match user {
            Some(u) if ok => {
                store.clear_failures(email.as_str()).await?;
                self.start_session(u, input.remember_me.unwrap_or(true), meta)
                    .await
            }
            _ => Err(self.count_failure(&email, cfg).await?),
        }
    }

    /// 423 while the email is locked.
    async fn check_lock(&self, email: &Email) -> AppResult<()> {
        if let Some(until) = self.inner.store.locked_until(email.as_str()).await? {
            let secs = (until.millis() - Timestamp::now().millis() + 999) / 1000;
            return Err(AppError::account_locked(u64::try_from(secs).unwrap_or(1)));
        }
        Ok(())
    }

    /// Counts a failure and returns the error to answer: 401 up to and including the
    /// failure that reaches the threshold, 423 for any that concurrency let past it.
    async fn count_failure(&self, email: &Email, cfg: &Config) -> AppResult<AppError> {
        let count = self
            .inner
            .store
            .record_failure(
                email.as_str(),
                cfg.lockout_window_secs,
                cfg.lockout_threshold,
                cfg.lockout_secs,
            )
            .await?;
        if count.failures == i64::from(cfg.lockout_threshold) {
            metrics::counter!(names::LOCKOUTS).increment(1);
        }
        if count.failures > i64::from(cfg.lockout_threshold) {
            return Ok(AppError::account_locked(cfg.lockout_secs));
        }
        Ok(AppError::invalid_credentials())
    }

    /// Creates a session for a verified user.
    async fn start_session(
        &self,
        user: UserRow,
        remember: bool,
        meta: &RequestMeta,
    ) -> AppResult<SignedIn> {
        let cfg = &self.inner.cfg;
        let (ttl, max_age) = session_lifetimes(cfg, remember);
        let now = Timestamp::now();
        let token = new_token();
        let ip = meta.ip.map(|ip| ip.to_string());
        let session = self
            .inner
            .store
            .insert_session(NewSession {
                token_hash: &token_hash(&token),
                user_id: &user.id,
                expires_at: now.plus_secs(ttl.min(max_age)),
                max_expires_at: now.plus_secs(max_age),
                persistent: remember,
                ip_address: ip.as_deref(),
                user_agent: meta.user_agent.as_deref(),
            })
            .await?;
        let cookie_max_age = remember.then(|| remaining_secs(&session));
        Ok(SignedIn {
            user,
            session,
            token,
            cookie_max_age,
        })
    }

    /// Resolves a session token (cookie or bearer), extending the session when it is due.
    pub async fn authenticate(&self, token: Option<&str>) -> AppResult<Principal> {
        let token = token.ok_or_else(AppError::unauthorized)?;
        if token.starts_with("ak_") {
            return Err(AppError::api_key_not_allowed());
        }
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AppError::unauthorized());
        }
        let (mut session, user) = self
            .inner
            .store
            .session_by_token(&token_hash(token))
            .await?
            .ok_or_else(AppError::unauthorized)?;
        let cfg = &self.inner.cfg;
        let now = Timestamp::now();
        let mut extended = None;
        let since_refresh = (now.millis() - session.refreshed_at.millis()) / 1000;
        if since_refresh >= i64::try_from(cfg.session_refresh_secs).unwrap_or(i64::MAX) {
            let (ttl, _) = session_lifetimes(cfg, session.persistent);
            let new_expiry = now.plus_secs(ttl).min(session.max_expires_at);
            if new_expiry > session.expires_at {
                self.inner
                    .store
                    .extend_session(&session.id, new_expiry)
                    .await?;
                session.expires_at = new_expiry;
                session.refreshed_at = now;
                extended = Some(session.persistent.then(|| remaining_secs(&session)));
            }
        }
        Ok(Principal {
            user,
            session,
            extended,
        })
    }

    /// Deletes the session behind the token, if any. Idempotent.
    pub async fn logout(&self, token: Option<&str>) -> AppResult<()> {
        if let Some(t) = token.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN) {
            self.inner
                .store
                .delete_session_by_token(&token_hash(t))
                .await?;
        }
        Ok(())
    }

    pub fn session_info(&self, p: Principal) -> SessionInfo {
        SessionInfo {
            session: Session::from(p.session),
            user: User::from(p.user),
        }
    }

    /// The user with their workspaces.
    pub async fn me(&self, p: &Principal) -> AppResult<Me> {
        let workspaces = self
            .inner
            .store
            .memberships(&p.user.id)
            .await?
            .into_iter()
            .map(|m| Workspace {
                id: m.workspace_id,
                name: m.name,
                slug: m.slug,
                role: m.role,
            })
            .collect();
        Ok(Me {
            user: User::from(&p.user),
            workspaces,
            active_workspace_id: p.user.personal_workspace_id.clone(),
        })
    }

    // ---- passwords ------------------------------------------------------------------

    /// Mails a reset link when the account exists; the answer and its timing do not
    /// depend on that, because the lookup and the mail run in the background.
    #[tracing::instrument(skip_all)]
    pub async fn forget_password(
        &self,
        input: inputs::ForgetPassword,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        self.gate(Flow::ForgetPassword, meta, input.turnstile_token.as_deref())
            .await?;
        let email = Email::parse(&input.email, "email")?;
        let base = match self.redirect(input.redirect_to.as_deref())? {
            Some(u) => u,
            None => self
                .inner
                .cfg
                .app_url
                .join("/reset-password")
                .context("reset link")?,
        };
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.forget_work(email, base).await {
                e.log();
            }
        });
        Ok(())
    }

    async fn forget_work(&self, email: Email, base: Url) -> AppResult<()> {
        let store = &self.inner.store;
        let Some(user) = store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if !store
            .reserve_email(&user.id, "reset-password", HOURLY_EMAIL_CAP, None)
            .await?
        {
            return Ok(());
        }
        // A newer link voids older ones.
        store.void_tokens(&user.id, Purpose::ResetPassword).await?;
        let token = new_token();
        store
            .insert_token(NewToken {
                purpose: Purpose::ResetPassword,
                user_id: &user.id,
                token_hash: &token_hash(&token),
                password_hash: None,
                name: None,
                callback_url: None,
                expires_at: Timestamp::now().plus_secs(RESET_TTL_SECS),
            })
            .await?;
        let link = with_query(&base, "token", &token);
        self.send_in_background(
            &user.email,
            "reset-password",
            mail::reset_email(&user.name, link.as_str()),
        );
        Ok(())
    }

    /// Sets a new password from a reset link: verifies the email, lifts any lock,
    /// voids outstanding links and revokes every session.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        input: inputs::ResetPassword,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        self.gate(Flow::ResetPassword, meta, input.turnstile_token.as_deref())
            .await?;
        if input.token.is_empty() || input.token.len() > MAX_TOKEN_LEN {
            return Err(AppError::invalid_token());
        }
        let store = &self.inner.store;
        let hash_of_token = token_hash(&input.token);
        // Peek (without consuming) to check the new password against the user's data;
        // an invalid password then consumes nothing.
        let user = match store.reset_token_user(&hash_of_token).await? {
            Some(id) => store.user_by_id(&id).await?,
            None => None,
        }
        .ok_or_else(AppError::invalid_token)?;
        let password = Password::new(&input.new_password);
        let email = Email::parse(&user.email, "email")?;
        self.inner
            .policy
            .check(&password, &email, Some(&user.name), "newPassword")?;
        let hash = self.inner.hasher.hash(&password).await?;
        store
            .consume_reset(&hash_of_token, &hash)
            .await?
            .ok_or_else(AppError::invalid_token)?;
        store.clear_failures(email.as_str()).await?;
        let user = store.user_by_id(&user.id).await?.context("user vanished")?;
        self.finalize_setup(&user).await
    }

    /// Changes the password of the signed-in user; a wrong current password counts
    /// toward lockout.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        p: &Principal,
        input: inputs::ChangePassword,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        self.gate(Flow::ChangePassword, meta, input.turnstile_token.as_deref())
            .await?;
        let email = Email::parse(&p.user.email, "email")?;
        self.check_lock(&email).await?;
        let new = Password::new(&input.new_password);
        self.inner
            .policy
            .check(&new, &email, Some(&p.user.name), "newPassword")?;
        let current = Password::new(&input.current_password);
        let hasher = &self.inner.hasher;
        let ok = match &p.user.password_hash {
            Some(h) => hasher.verify(&current, h).await?,
            None => hasher.verify_dummy(&current).await?,
        };
        if !ok {
            let err = self.count_failure(&email, &self.inner.cfg).await?;
            return Err(if err.code == "ACCOUNT_LOCKED" {
                err
            } else {
                AppError::wrong_current_password()
            });
        }
        let hash = hasher.hash(&new).await?;
        let store = &self.inner.store;
        store.set_password(&p.user.id, Some(&hash)).await?;
        store.clear_failures(email.as_str()).await?;
        if input.revoke_other_sessions.unwrap_or(true) {
            store
                .delete_sessions_of(&p.user.id, Some(&p.session.id))
                .await?;
        }
        Ok(())
    }

    /// Gives a password to an account that has none.
    #[tracing::instrument(skip_all)]
    pub async fn set_password(
        &self,
        p: &Principal,
        input: inputs::SetPassword,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        self.gate(Flow::SetPassword, meta, input.turnstile_token.as_deref())
            .await?;
        if p.user.password_hash.is_some() {
            return Err(AppError::password_already_set());
        }
        let email = Email::parse(&p.user.email, "email")?;
        let new = Password::new(&input.new_password);
        self.inner
            .policy
            .check(&new, &email, Some(&p.user.name), "newPassword")?;
        let hash = self.inner.hasher.hash(&new).await?;
        if !self
            .inner
            .store
            .set_password_if_none(&p.user.id, &hash)
            .await?
        {
            return Err(AppError::password_already_set());
        }
        Ok(())
    }

    // ---- linked accounts and second factors -----------------------------------------

    /// Every way the user can sign in: `credential` when a password is set, then each
    /// linked provider identity.
    pub async fn linked_accounts(&self, p: &Principal) -> AppResult<Vec<LinkedAccount>> {
        let mut out = Vec::new();
        if p.user.password_hash.is_some() {
            out.push(LinkedAccount {
                provider: "credential".into(),
                account_id: p.user.id.clone(),
                created_at: p.user.created_at,
            });
        }
        for l in self.inner.store.linked_accounts(&p.user.id).await? {
            out.push(LinkedAccount {
                provider: l.provider,
                account_id: l.subject,
                created_at: l.created_at,
            });
        }
        Ok(out)
    }

    /// Removes a way to sign in, never the last one.
    #[tracing::instrument(skip_all)]
    pub async fn unlink_provider(
        &self,
        p: &Principal,
        input: inputs::UnlinkProvider,
    ) -> AppResult<()> {
        let accounts = self.linked_accounts(p).await?;
        let matches = |a: &&LinkedAccount| {
            a.provider == input.provider
                && input
                    .account_id
                    .as_deref()
                    .is_none_or(|id| id == a.account_id)
        };
        let removed = accounts.iter().filter(matches).count();
        if removed == 0 {
            return Err(AppError::not_found(
                "This sign-in method is not linked to your account.",
            ));
        }
        if removed == accounts.len() {
            return Err(AppError::last_login_method());
        }
        let store = &self.inner.store;
        if input.provider == "credential" {
            store.set_password(&p.user.id, None).await?;
        } else {
            store
                .unlink(&p.user.id, &input.provider, input.account_id.as_deref())
                .await?;
        }
        Ok(())
    }

    pub async fn two_factor_status(&self, p: &Principal) -> AppResult<TwoFactorStatus> {
        let methods = self.inner.store.two_factor_methods(&p.user.id).await?;
        Ok(TwoFactorStatus {
            enabled: !methods.is_empty(),
            methods,
        })
    }

    /// The sign-in methods a page can offer (contract §4 `sign-in-methods`): no
    /// session needed, nothing secret (the Turnstile secret never leaves latch).
    pub fn sign_in_methods(&self) -> SignInMethods {
        let cfg = &self.inner.cfg;
        let mut providers: Vec<SignInProvider> = cfg
            .oidc_providers
            .iter()
            .map(|p| SignInProvider {
                id: p.name.clone(),
                display_name: p.display_name.clone(),
            })
            .collect();
        providers.sort_by(|a, b| a.id.cmp(&b.id));
        SignInMethods {
            password: true,
            passkey: false,
            providers,
            turnstile: cfg.turnstile_secret.as_ref().map(|_| TurnstileMethod {
                site_key: cfg.turnstile_site_key.clone(),
                flows: cfg.turnstile_flows.clone(),
            }),
        }
    }

    /// Whether the database answers.
    pub async fn healthy(&self) -> bool {
        self.inner.store.ping().await
    }
}

/// (sliding ttl, absolute max age) in seconds for a new or extended session.
fn session_lifetimes(cfg: &Config, remember: bool) -> (u64, u64) {
    if remember {
        (cfg.session_ttl_secs, cfg.session_max_age_secs)
    } else {
        (
            cfg.session_ttl_secs.min(SHORT_SESSION_SECS),
            cfg.session_max_age_secs.min(SHORT_SESSION_SECS),
        )
    }
}

fn remaining_secs(s: &SessionRow) -> i64 {
    // Rounded up: a session created with a 100 s lifetime says Max-Age=100.
    ((s.expires_at.millis() - Timestamp::now().millis() + 999) / 1000).max(0)
}

/// Combines several 422 errors into one body; any other error wins as is.
fn merge_validation<'a>(errors: impl IntoIterator<Item = Option<&'a AppError>>) -> AppResult<()> {
    let mut fields = crate::error::FieldErrors::new();
    for e in errors.into_iter().flatten() {
        match &e.fields {
            Some(f) if e.code == "VALIDATION_ERROR" => {
                for (k, v) in f {
                    fields
                        .entry(k.clone())
                        .or_default()
                        .extend(v.iter().cloned());
                }
            }
            _ => return Err(AppError::bad_request(e.message.clone())),
        }
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(AppError::validation(fields))
    }
}

/// A URL-safe slug from the user's name, with a random suffix so it is unique.
fn workspace_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let base = if slug.is_empty() { "workspace" } else { slug };
    let suffix: u32 = rand::random();
    format!("{base}-{suffix:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe_and_unique() {
        let a = workspace_slug("Ada  Lovelace!");
        assert!(a.starts_with("ada-lovelace-"), "{a}");
        assert_ne!(a, workspace_slug("Ada  Lovelace!"));
        assert!(workspace_slug("日本").starts_with("workspace-"));
    }
}
