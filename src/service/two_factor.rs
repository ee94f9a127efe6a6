//! Two-factor management (docs/api.md §8.1, §8.2, §8.7): status, enrollment and its
//! confirmation, backup codes, disabling. The sign-in step and the code checks are in
//! `second_step`.

use super::*;
use crate::otp::{TotpSecret, new_backup_codes, qr_data_uri};
use crate::store::{NewBackupCode, TwoFactorRow};
use commands::{Proof, TotpConfirmation, TwoFactorOff};

/// An enrollment stays pending this long (§8.1 rule 3).
const ENROLLMENT_TTL_SECS: u64 = 600;

/// A started enrollment: shown once, never again.
pub struct Enrollment {
    /// Base32, for typing into an app.
    pub secret: String,
    pub uri: String,
    /// `uri` as an SVG QR code in a data URI.
    pub qr_code: String,
    pub expires_at: Timestamp,
}

impl AppState {
    /// `GET /auth/two-factor/status`.
    pub async fn two_factor_status(&self, p: &Principal) -> AppResult<TwoFactorState> {
        let store = &self.inner.store;
        let row = store.two_factor(&p.user.id).await?;
        let enabled = row.as_ref().is_some_and(TwoFactorRow::enabled);
        let remaining = if enabled {
            store.backup_codes_remaining(&p.user.id).await?
        } else {
            0
        };
        Ok(TwoFactorState {
            enabled,
            methods: methods(enabled, remaining),
            backup_codes_remaining: remaining,
            pending_enrollment: row
                .as_ref()
                .is_some_and(|r| r.pending(Timestamp::now()).is_some()),
        })
    }

    /// The user's two-factor row while 2FA is on.
    pub(super) async fn enabled_two_factor(
        &self,
        user: &UserId,
    ) -> AppResult<Option<TwoFactorRow>> {
        Ok(self
            .inner
            .store
            .two_factor(user)
            .await?
            .filter(TwoFactorRow::enabled))
    }

    /// `totp/enroll` (↑): a new secret, pending until its first code confirms it; a
    /// confirmed authenticator keeps working meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn enroll_totp(
        &self,
        p: &Principal,
        input: impl Submission<Proof>,
        meta: &RequestMeta,
    ) -> AppResult<Enrollment> {
        let proof = self.admit(Flow::EnrollTotp, meta, input).await?;
        self.step_up(p, &proof, meta).await?;
        let secret = TotpSecret::generate();
        let sealed = self.inner.key.seal(&p.user.id, secret.bytes())?;
        let expires_at = Timestamp::now().plus_secs(ENROLLMENT_TTL_SECS);
        let uri = secret.uri(&self.inner.cfg.two_factor.totp_issuer, &p.user.email)?;
        let qr_code = qr_data_uri(&uri)?;
        self.inner
            .store
            .start_enrollment(&p.user.id, &sealed, expires_at)
            .await?;
        Ok(Enrollment {
            secret: secret.base32(),
            uri,
            qr_code,
            expires_at,
        })
    }

    /// `totp/confirm`: the first code of the pending secret turns 2FA on (with backup
    /// codes, returned this once) or swaps the authenticator (the codes are kept).
    #[tracing::instrument(skip_all)]
    pub async fn confirm_totp(
        &self,
        p: &Principal,
        input: impl Submission<TotpConfirmation>,
        meta: &RequestMeta,
    ) -> AppResult<Option<Vec<String>>> {
        let c = self.admit(Flow::ConfirmTotp, meta, input).await?;
        let store = &self.inner.store;
        let uid = &p.user.id;
        let row = store.two_factor(uid).await?;
        let Some(pending) = row.as_ref().and_then(|r| r.pending(Timestamp::now())) else {
            return Err(AppError::no_pending_enrollment());
        };
        let secret = self.open_secret(uid, pending)?;
        let step = match crate::otp::Code::parse(&c.code) {
            crate::otp::Code::Totp(code) => self.totp_step(secret, code).await?,
            _ => None,
        };
        // A wrong code counts toward the enrollment's own limit, not the lock (§8.1).
        let Some(step) = step else {
            store.count_enrollment_failure(uid, pending).await?;
            return Err(AppError::invalid_code());
        };
        let first = !row.as_ref().is_some_and(TwoFactorRow::enabled);
        let (shown, stored) = if first {
            let (shown, stored) = self.new_backup_set(uid).await?;
            (Some(shown), Some(stored))
        } else {
            (None, None)
        };
        let Some(replaced) = store
            .confirm_enrollment(uid, pending, step, stored.as_deref())
            .await?
        else {
            // The step was spent meanwhile (a replay), or the enrollment changed.
            store.count_enrollment_failure(uid, pending).await?;
            return Err(AppError::invalid_code());
        };
        if c.revoke_other_sessions {
            store.delete_sessions_of(uid, Some(&p.session.id)).await?;
        }
        let notice = if replaced {
            Notice::TotpReplaced
        } else {
            Notice::TwoFactorEnabled
        };
        self.send_notice(&p.user, notice, meta);
        Ok(if replaced { None } else { shown })
    }

    /// `generate-backup-codes` (↑): a new set replaces every earlier code.
    #[tracing::instrument(skip_all)]
    pub async fn generate_backup_codes(
        &self,
        p: &Principal,
        input: impl Submission<Proof>,
        meta: &RequestMeta,
    ) -> AppResult<Vec<String>> {
        let proof = self.admit(Flow::GenerateBackupCodes, meta, input).await?;
        if self.enabled_two_factor(&p.user.id).await?.is_none() {
            return Err(AppError::two_factor_not_enabled());
        }
        self.step_up(p, &proof, meta).await?;
        let (shown, stored) = self.new_backup_set(&p.user.id).await?;
        if !self
            .inner
            .store
            .replace_backup_codes(&p.user.id, &stored)
            .await?
        {
            return Err(AppError::two_factor_not_enabled());
        }
        self.send_notice(&p.user, Notice::BackupCodesRegenerated, meta);
        Ok(shown)
    }

    /// `two-factor/disable` (↑): removes every trace of the second factor (§8.7).
    #[tracing::instrument(skip_all)]
    pub async fn disable_two_factor(
        &self,
        p: &Principal,
        input: impl Submission<TwoFactorOff>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let off = self.admit(Flow::DisableTwoFactor, meta, input).await?;
        if self.enabled_two_factor(&p.user.id).await?.is_none() {
            return Err(AppError::two_factor_not_enabled());
        }
        self.step_up(p, &off.proof, meta).await?;
        let store = &self.inner.store;
        if !store.remove_two_factor(&p.user.id).await? {
            return Err(AppError::two_factor_not_enabled());
        }
        if off.revoke_other_sessions {
            store
                .delete_sessions_of(&p.user.id, Some(&p.session.id))
                .await?;
        }
        self.send_notice(&p.user, Notice::TwoFactorDisabled, meta);
        Ok(())
    }

    /// A new set of backup codes: as shown (`xxxxx-xxxxx`) and as stored (tag and
    /// argon2id hash at the password cost, §8.2 rule 1).
    async fn new_backup_set(&self, uid: &UserId) -> AppResult<(Vec<String>, Vec<NewBackupCode>)> {
        let codes = new_backup_codes();
        let secrets: Vec<Password> = codes
            .iter()
            .map(|c| Password::new(c.normalized()))
            .collect();
        let hashes = self.inner.hasher.hash_all(&secrets).await?;
        let stored = codes
            .iter()
            .zip(hashes)
            .map(|(c, hash)| NewBackupCode {
                tag: self.inner.key.tag(uid, c.normalized().as_bytes()),
                hash,
            })
            .collect();
        Ok((codes.iter().map(|c| c.display()).collect(), stored))
    }

    /// Opens a sealed secret of `uid`; one that does not open is an internal error (the
    /// key check at start makes a wrong key impossible, so it was altered).
    pub(super) fn open_secret(&self, uid: &UserId, sealed: &str) -> AppResult<TotpSecret> {
        self.inner
            .key
            .open(uid, sealed)
            .and_then(TotpSecret::from_bytes)
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("a sealed TOTP secret does not open"))
            })
    }

    /// The step whose code `code` is, checked on a hashing thread (docs/api.md §8.4).
    pub(super) async fn totp_step(
        &self,
        secret: TotpSecret,
        code: String,
    ) -> AppResult<Option<i64>> {
        let now = u64::try_from(Timestamp::now().millis() / 1000).unwrap_or(0);
        self.inner
            .hasher
            .run(move || secret.matching_step(&code, now))
            .await
    }
}

/// `methods` of the status and of a challenge: `totp` while on, `backup-code` while
/// unused codes remain.
pub(super) fn methods(enabled: bool, backup_codes_remaining: i64) -> Vec<String> {
    let mut m = Vec::new();
    if enabled {
        m.push("totp".to_string());
        if backup_codes_remaining > 0 {
            m.push("backup-code".to_string());
        }
    }
    m
}
