//! The second step of a sign-in (docs/api.md §8.3–8.6): after a right first factor, a
//! user with 2FA on gets a ticket instead of a session (unless a trusted device skips
//! it), and `two-factor/verify` turns the ticket and a code into the session. The code
//! check here serves verify and the step-up `code` proof alike.

use super::*;
use crate::otp::{BackupCode, Code};
use crate::store::{HARD_LOCK_FAILURES, NewTicket, TicketRow, TwoFactorRow};
use commands::SecondStep;

/// How a sign-in ended.
pub enum SignInStep {
    /// Signed in.
    Done(Box<SignedIn>),
    /// The second step is asked.
    SecondFactor(Challenge),
}

/// A pending second step: the ticket (shown once), the methods it accepts, its end.
pub struct Challenge {
    pub ticket: String,
    pub methods: Vec<String>,
    pub expires_at: Timestamp,
}

/// What a sign-in does to the browser's `trusted_device` cookie.
pub enum DeviceCookie {
    Keep,
    /// A new (or rotated) trust: its token and the trust's end.
    Set {
        token: String,
        expires_at: Timestamp,
    },
    /// The presented cookie is no good (another user's, expired or unknown).
    Clear,
}

/// The answer of a sign-in, a social callback or a verify.
pub struct SignInOutcome {
    pub step: SignInStep,
    pub device: DeviceCookie,
    /// After a backup code: how many remain.
    pub backup_codes_remaining: Option<i64>,
}

impl SignInOutcome {
    /// Signed in, with what to do to the `trusted_device` cookie; no backup code used.
    pub(super) fn done(signed_in: SignedIn, device: DeviceCookie) -> SignInOutcome {
        SignInOutcome {
            step: SignInStep::Done(Box::new(signed_in)),
            device,
            backup_codes_remaining: None,
        }
    }
}

/// A right second factor, by kind.
pub(super) enum SecondFactor {
    Totp,
    BackupCode { remaining: i64 },
}

impl SecondFactor {
    fn method(&self) -> &'static str {
        match self {
            SecondFactor::Totp => "totp",
            SecondFactor::BackupCode { .. } => "backup-code",
        }
    }
}

/// The facts of a session to open.
pub(super) struct SessionStart {
    pub remember: bool,
    pub methods: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl SessionStart {
    pub fn of(meta: &RequestMeta, remember: bool, methods: Vec<String>) -> SessionStart {
        SessionStart {
            remember,
            methods,
            ip: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent.clone(),
        }
    }
}

impl AppState {
    /// A right first factor (`first`: `password`, `oidc:<provider>`): a session, or
    /// the second step when 2FA is on and no valid trusted device skips it (§8.3, §8.6).
    /// `body_device` is a `trustedDeviceToken` from the request body; else the cookie's.
    pub(super) async fn finish_first_factor(
        &self,
        user: UserRow,
        remember: bool,
        first: &str,
        body_device: Option<&str>,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let done = SignInOutcome::done;
        let Some(row) = self.enabled_two_factor(&user.id).await? else {
            let start = SessionStart::of(meta, remember, vec![first.to_string()]);
            return Ok(done(
                self.open_session(user, start).await?,
                DeviceCookie::Keep,
            ));
        };
        let store = &self.inner.store;
        // A usable token in the body wins; else the cookie's.
        let (presented, from_cookie) = match body_device.filter(usable_token) {
            Some(t) => (Some(t), false),
            None => (meta.trusted_device.as_deref(), true),
        };
        let mut device = DeviceCookie::Keep;
        if let Some(old) = presented.filter(usable_token) {
            let new = new_token();
            let rotated = match self.inner.cfg.two_factor.trusted_device_secs {
                Some(_) => {
                    store
                        .rotate_trusted_device(&token_hash(old), &token_hash(&new), &user.id)
                        .await?
                }
                None => None,
            };
            if let Some(expires_at) = rotated {
                let methods = vec![first.to_string(), "trusted-device".to_string()];
                let start = SessionStart::of(meta, remember, methods);
                let signed_in = self.open_session(user, start).await?;
                let device = DeviceCookie::Set {
                    token: new,
                    expires_at,
                };
                return Ok(done(signed_in, device));
            }
        }
        if presented.is_some() && from_cookie {
            device = DeviceCookie::Clear;
        }
        code_lock(&row)?;
        let ticket = new_token();
        let expires_at = Timestamp::now().plus_secs(self.inner.cfg.two_factor.ticket_secs);
        let ip = meta.ip.map(|ip| ip.to_string());
        store
            .insert_ticket(NewTicket {
                token_hash: &token_hash(&ticket),
                user_id: &user.id,
                persistent: remember,
                ip_address: ip.as_deref(),
                user_agent: meta.user_agent.as_deref(),
                first_factor: first,
                expires_at,
            })
            .await?;
        let remaining = store.backup_codes_remaining(&user.id).await?;
        Ok(SignInOutcome {
            step: SignInStep::SecondFactor(Challenge {
                ticket,
                methods: two_factor::methods(true, remaining),
                expires_at,
            }),
            device,
            backup_codes_remaining: None,
        })
    }

    /// `two-factor/verify`: the ticket (body, else cookie) and a code make the session.
    /// The ticket is claimed for the check, so one ticket's attempts never run side by
    /// side: the loser of two concurrent verifies gets `INVALID_TICKET`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_two_factor(
        &self,
        input: impl Submission<SecondStep>,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let step = self.admit(Flow::VerifyTwoFactor, meta, input).await?;
        let ticket = step
            .ticket
            .as_deref()
            .filter(usable_token)
            .or(meta.two_factor_ticket.as_deref().filter(usable_token))
            .ok_or_else(AppError::invalid_ticket)?;
        let hash = token_hash(ticket);
        let store = &self.inner.store;
        // A verify that never finishes (a dropped connection) frees the ticket after
        // the longest a request may take.
        let claim_until = Timestamp::now().plus_secs(self.inner.cfg.request_timeout_secs + 1);
        let claimed = store
            .claim_ticket(&hash, claim_until)
            .await?
            .ok_or_else(AppError::invalid_ticket)?;
        match self.verify_claimed(&claimed, &step.code, meta).await {
            Ok((user, factor)) => {
                // Voided meanwhile (logout, a password reset, disable): no session.
                if !store.delete_claimed_ticket(&hash).await? {
                    return Err(AppError::invalid_ticket());
                }
                self.after_second_factor(user, &claimed, factor, step.trust_device, meta)
                    .await
            }
            Err(e) => {
                let failed = e.kind() == Kind::InvalidCode;
                store.release_ticket(&hash, failed).await?;
                Err(e)
            }
        }
    }

    async fn verify_claimed(
        &self,
        t: &TicketRow,
        code: &str,
        meta: &RequestMeta,
    ) -> AppResult<(UserRow, SecondFactor)> {
        let user = self
            .inner
            .store
            .user_by_id(&t.user_id)
            .await?
            .ok_or_else(AppError::invalid_ticket)?;
        let row = self
            .enabled_two_factor(&user.id)
            .await?
            .ok_or_else(AppError::invalid_ticket)?;
        let factor = self.check_second_factor(&user, &row, code, meta).await?;
        Ok((user, factor))
    }

    async fn after_second_factor(
        &self,
        user: UserRow,
        t: &TicketRow,
        factor: SecondFactor,
        trust_device: bool,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let start = SessionStart {
            remember: t.persistent,
            methods: vec![t.first_factor.clone(), factor.method().to_string()],
            ip: t.ip_address.clone(),
            user_agent: t.user_agent.clone(),
        };
        let user_id = user.id.clone();
        let signed_in = self.open_session(user, start).await?;
        let device = match (trust_device, self.inner.cfg.two_factor.trusted_device_secs) {
            (true, Some(secs)) => {
                let token = new_token();
                let expires_at = Timestamp::now().plus_secs(secs);
                let store = &self.inner.store;
                store
                    .insert_trusted_device(&token_hash(&token), &user_id, expires_at)
                    .await?;
                // The new grant replaces this browser's earlier one (§8.6 rule 5).
                if let Some(old) = meta.trusted_device.as_deref().filter(usable_token) {
                    store
                        .forget_trusted_device(&token_hash(old), &user_id)
                        .await?;
                }
                DeviceCookie::Set { token, expires_at }
            }
            _ => DeviceCookie::Keep,
        };
        Ok(SignInOutcome {
            step: SignInStep::Done(Box::new(signed_in)),
            device,
            backup_codes_remaining: match factor {
                SecondFactor::BackupCode { remaining } => Some(remaining),
                SecondFactor::Totp => None,
            },
        })
    }

    /// Checks `raw` as the user's second factor and spends it when right (the TOTP
    /// step, or the backup code). 423 while the second factor is locked, without
    /// looking at the code; a rejected code counts toward the lock (§8.5).
    pub(super) async fn check_second_factor(
        &self,
        user: &UserRow,
        row: &TwoFactorRow,
        raw: &str,
        meta: &RequestMeta,
    ) -> AppResult<SecondFactor> {
        code_lock(row)?;
        let store = &self.inner.store;
        let right = match Code::parse(raw) {
            Code::Totp(code) => {
                let sealed = row.secret.as_deref().unwrap_or_default();
                let secret = self.open_secret(&user.id, sealed)?;
                match self.totp_step(secret, code).await? {
                    Some(step) if store.accept_step(&user.id, step).await? => {
                        Some(SecondFactor::Totp)
                    }
                    _ => None,
                }
            }
            Code::Backup(code) => self
                .use_backup_code(&user.id, &code)
                .await?
                .map(|remaining| SecondFactor::BackupCode { remaining }),
            Code::Malformed => None,
        };
        let Some(factor) = right else {
            return Err(self.count_code_failure(user, meta).await?);
        };
        // The accepted step already started the count over; a backup code does it here.
        if let SecondFactor::BackupCode { remaining } = factor {
            store.clear_code_failures(&user.id).await?;
            self.send_notice(user, Notice::BackupCodeUsed { remaining }, meta);
        }
        Ok(factor)
    }

    /// Uses a backup code: one argon2id verification per candidate the keyed tag picks
    /// (nearly always one; none: the dummy hash, so a wrong code costs what a right one
    /// does), then the atomic use. The number of unused codes left, or `None` for a
    /// wrong or already used code, or one that a lock started meanwhile refuses.
    async fn use_backup_code(&self, uid: &UserId, code: &BackupCode) -> AppResult<Option<i64>> {
        let store = &self.inner.store;
        let hasher = &self.inner.hasher;
        let tag = self.inner.key.tag(uid, code.normalized().as_bytes());
        let candidates = store.backup_candidates(uid, tag).await?;
        let secret = Password::new(code.normalized());
        if candidates.is_empty() {
            hasher.verify_dummy(&secret).await?;
            return Ok(None);
        }
        for (id, hash) in candidates {
            if hasher.verify(&secret, &hash).await? {
                if !store.use_backup_code(&id).await? {
                    return Ok(None);
                }
                return Ok(Some(store.backup_codes_remaining(uid).await?));
            }
        }
        Ok(None)
    }

    /// Counts a rejected code; the error to answer: `INVALID_CODE` (the failure that
    /// starts a lock included, which mails `two-factor-locked`), or 423 when a lock
    /// started meanwhile and nothing was counted.
    async fn count_code_failure(&self, user: &UserRow, meta: &RequestMeta) -> AppResult<AppError> {
        let cfg = &self.inner.cfg.two_factor;
        let lock_until = Timestamp::now().plus_secs(cfg.lockout_secs);
        let store = &self.inner.store;
        let Some(f) = store
            .record_code_failure(&user.id, cfg.lockout_threshold, lock_until)
            .await?
        else {
            return Ok(match store.two_factor(&user.id).await? {
                Some(row) => code_lock(&row).err().unwrap_or_else(AppError::invalid_code),
                None => AppError::invalid_code(),
            });
        };
        let started = f.failures % i64::from(cfg.lockout_threshold) == 0
            || (f.hard_locked && f.failures == HARD_LOCK_FAILURES);
        if started {
            metrics::counter!(names::TWO_FACTOR_LOCKS).increment(1);
            self.send_notice(user, Notice::TwoFactorLocked, meta);
        }
        Ok(AppError::invalid_code())
    }
}

/// 423 `TWO_FACTOR_LOCKED` while the second factor is locked (§8.5 rule 3).
fn code_lock(row: &TwoFactorRow) -> AppResult<()> {
    if row.hard_locked {
        return Err(AppError::two_factor_locked(None));
    }
    if let Some(until) = row.locked_until {
        let left = until.millis() - Timestamp::now().millis();
        if left > 0 {
            let secs = u64::try_from((left + 999) / 1000).unwrap_or(1);
            return Err(AppError::two_factor_locked(Some(secs)));
        }
    }
    Ok(())
}
