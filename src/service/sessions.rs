//! Sign-in with lockout, sessions, `me`.

use super::*;
use commands::Credentials;

impl AppState {
    /// Email and password sign-in with lockout (docs/api.md §4, §6).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        input: impl Submission<Credentials>,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let result = self.sign_in_checked(input, meta).await;
        let outcome = match &result {
            Ok(SignInOutcome {
                step: SignInStep::SecondFactor(_),
                ..
            }) => "second_step",
            Ok(_) => "success",
            Err(e) => e.kind().redirect_code(),
        };
        metrics::counter!(names::SIGN_INS, "outcome" => outcome.to_ascii_lowercase()).increment(1);
        result
    }

    pub(super) async fn sign_in_checked(
        &self,
        input: impl Submission<Credentials>,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let Credentials {
            email,
            password,
            remember_me,
            trusted_device,
        } = self.admit(Flow::SignIn, meta, input).await?;
        let cfg = &self.inner.cfg;
        let store = &self.inner.store;
        let hasher = &self.inner.hasher;
        self.check_lock(&email).await?;

        let user = store.user_by_email(email.as_str()).await?;
        let ok = match &user {
            Some(u) if u.email_verified => match store.password_hash(&u.id).await? {
                Some(h) => hasher.verify(&password, &h).await?,
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
                self.finish_first_factor(
                    u,
                    remember_me,
                    "password",
                    trusted_device.as_deref(),
                    meta,
                )
                .await
            }
            _ => Err(self.count_failure(&email, cfg).await?),
        }
    }

    /// 423 while the email is locked.
    pub(super) async fn check_lock(&self, email: &Email) -> AppResult<()> {
        if let Some(until) = self.inner.store.locked_until(email.as_str()).await? {
            let secs = (until.millis() - Timestamp::now().millis() + 999) / 1000;
            return Err(AppError::account_locked(u64::try_from(secs).unwrap_or(1)));
        }
        Ok(())
    }

    /// Counts a failure and returns the error to answer: 401 up to and including the
    /// failure that reaches the threshold, 423 for any that concurrency let past it.
    pub(super) async fn count_failure(&self, email: &Email, cfg: &Config) -> AppResult<AppError> {
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

    /// Creates a session with the facts of `start`.
    pub(super) async fn open_session(
        &self,
        user: UserRow,
        start: second_step::SessionStart,
    ) -> AppResult<SignedIn> {
        let cfg = &self.inner.cfg;
        let (ttl, max_age) = session_lifetimes(cfg, start.remember);
        let now = Timestamp::now();
        let token = new_token();
        let session = self
            .inner
            .store
            .insert_session(NewSession {
                token_hash: &token_hash(&token),
                user_id: &user.id,
                auth_methods: &start.methods,
                expires_at: now.plus_secs(ttl.min(max_age)),
                max_expires_at: now.plus_secs(max_age),
                persistent: start.remember,
                ip_address: start.ip.as_deref(),
                user_agent: start.user_agent.as_deref(),
            })
            .await?
            // The account was deleted while signing in: as if it never existed.
            .ok_or_else(AppError::invalid_credentials)?;
        Ok(SignedIn {
            user,
            session,
            token,
        })
    }

    /// Resolves a session token (cookie or bearer), extending the session when it is
    /// due and recording its use at most once per `LATCH_SESSION_ACTIVITY_SECS`, so a
    /// check stays one indexed read nearly always (docs/api.md §9).
    pub async fn authenticate(
        &self,
        token: Option<&str>,
        meta: &RequestMeta,
    ) -> AppResult<Principal> {
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
        let mut refresh = Refresh::Unchanged;
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
                refresh = Refresh::Extended;
            }
        }
        let since_active = (now.millis() - session.last_active_at.millis()) / 1000;
        if since_active >= i64::try_from(cfg.session_activity_secs).unwrap_or(i64::MAX) {
            let ip = meta.ip.map(|ip| ip.to_string());
            // Best effort: a failed record never fails the session check.
            match self
                .inner
                .store
                .record_activity(&session.id, now, ip.as_deref())
                .await
            {
                Ok(()) => {
                    session.last_active_at = now;
                    session.last_ip_address = ip;
                }
                Err(e) => tracing::warn!(error = %e, "session activity not recorded"),
            }
        }
        Ok(Principal {
            user,
            session,
            refresh,
        })
    }

    /// Deletes the session behind the token, if any, and voids the browser's pending
    /// second step (docs/api.md §2); a trusted device stays trusted. Idempotent.
    pub async fn logout(&self, token: Option<&str>, meta: &RequestMeta) -> AppResult<()> {
        if let Some(t) = token.filter(usable_token) {
            self.inner
                .store
                .delete_session_by_token(&token_hash(t))
                .await?;
        }
        if let Some(t) = meta.two_factor_ticket.as_deref().filter(usable_token) {
            self.inner.store.delete_ticket(&token_hash(t)).await?;
        }
        Ok(())
    }

    /// The user's unexpired sessions: the caller's first, then the most recently
    /// active, at most [`MAX_LISTED_SESSIONS`].
    pub async fn list_sessions(&self, p: &Principal) -> AppResult<Vec<(SessionRow, bool)>> {
        let others = self
            .inner
            .store
            .sessions_of(&p.user.id, MAX_LISTED_SESSIONS)
            .await?;
        let mut out = vec![(p.session.clone(), true)];
        out.extend(
            others
                .into_iter()
                .filter(|s| s.id != p.session.id)
                .map(|s| (s, false)),
        );
        out.truncate(usize::try_from(MAX_LISTED_SESSIONS).unwrap_or(100));
        Ok(out)
    }

    /// Ends one of the caller's sessions; the caller's own acts as logout. Whether it
    /// was the caller's own (its cookie is then cleared).
    pub async fn revoke_session(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> AppResult<bool> {
        let id = SessionId::new(id.to_string());
        if !self.inner.store.delete_session_of(&p.user.id, &id).await? {
            return Err(AppError::not_found("There is no such session."));
        }
        let own = id == p.session.id;
        if own {
            // As logout: the browser's pending second step goes too.
            self.logout(None, meta).await?;
        }
        Ok(own)
    }

    /// Ends every other session of the caller and forgets every trusted device but
    /// this browser's (docs/api.md §8.6); how many sessions ended.
    pub async fn revoke_other_sessions(&self, p: &Principal, meta: &RequestMeta) -> AppResult<u64> {
        let store = &self.inner.store;
        let revoked = store
            .delete_sessions_of(&p.user.id, Some(&p.session.id))
            .await?;
        self.forget_other_devices(p, meta).await?;
        Ok(revoked)
    }

    /// Forgets the user's trusted devices except the one this request's cookie names.
    pub(super) async fn forget_other_devices(
        &self,
        p: &Principal,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let keep = meta.trusted_device.as_deref().map(token_hash);
        self.inner
            .store
            .forget_trusted_devices(&p.user.id, keep.as_ref())
            .await?;
        Ok(())
    }

    /// The user with their workspaces.
    pub async fn me(&self, p: &Principal) -> AppResult<Account> {
        let workspaces = self.inner.store.memberships(&p.user.id).await?;
        Ok(Account {
            user: p.user.clone(),
            workspaces,
            active_workspace_id: p.user.personal_workspace_id.clone(),
        })
    }
}

/// The most sessions `list-sessions` answers.
const MAX_LISTED_SESSIONS: i64 = 100;

/// (sliding ttl, absolute max age) in seconds for a new or extended session.
pub(super) fn session_lifetimes(cfg: &Config, remember: bool) -> (u64, u64) {
    if remember {
        (cfg.session_ttl_secs, cfg.session_max_age_secs)
    } else {
        (
            cfg.session_ttl_secs.min(SHORT_SESSION_SECS),
            cfg.session_max_age_secs.min(SHORT_SESSION_SECS),
        )
    }
}
