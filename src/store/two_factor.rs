//! Two-factor state (docs/api.md §8): the authenticator and its enrollment, the code
//! failure count and lock, backup codes (tickets and trusted devices: `second_step`).
//! Every rule that must hold under concurrency is one conditional statement: a step is
//! accepted only when later than the last (§8.4), a backup code is used only while
//! unused (§8.2).

use super::*;

/// A user's two-factor row.
#[derive(Clone)]
pub struct TwoFactorRow {
    /// The confirmed authenticator, sealed; `None` while 2FA is off.
    pub secret: Option<String>,
    pub pending_secret: Option<String>,
    pub pending_expires_at: Option<Timestamp>,
    pub failures: i64,
    pub locked_until: Option<Timestamp>,
    /// Locked until a password reset or `latch users unlock`.
    pub hard_locked: bool,
}

impl TwoFactorRow {
    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }

    /// The live pending enrollment's sealed secret.
    pub fn pending(&self, now: Timestamp) -> Option<&str> {
        match (&self.pending_secret, self.pending_expires_at) {
            (Some(s), Some(until)) if until > now => Some(s),
            _ => None,
        }
    }
}

/// What one rejected code did to the count.
#[derive(Debug, Clone, Copy)]
pub struct CodeFailure {
    pub failures: i64,
    pub hard_locked: bool,
}

/// A backup code to store: its lookup tag and argon2id hash.
pub struct NewBackupCode {
    pub tag: u8,
    pub hash: String,
}

/// Wrong confirmation codes at which an enrollment is void (§8.1 rule 4).
pub const ENROLLMENT_MAX_FAILURES: i64 = 5;
/// Rejected codes at which the second factor locks until a password reset (§8.5).
pub const HARD_LOCK_FAILURES: i64 = 100;

impl Store {
    pub async fn two_factor(&self, user_id: &UserId) -> sqlx::Result<Option<TwoFactorRow>> {
        let row = sqlx::query(
            "SELECT secret, pending_secret, pending_expires_at, failures, locked_until, \
             hard_locked FROM two_factor WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(TwoFactorRow {
                secret: r.try_get("secret")?,
                pending_secret: r.try_get("pending_secret")?,
                pending_expires_at: r
                    .try_get::<Option<i64>, _>("pending_expires_at")?
                    .map(Timestamp),
                failures: r.try_get("failures")?,
                locked_until: r.try_get::<Option<i64>, _>("locked_until")?.map(Timestamp),
                hard_locked: r.try_get::<i64, _>("hard_locked")? != 0,
            })
        })
        .transpose()
    }

    /// Starts (or restarts) an enrollment; a confirmed authenticator stays as it is.
    pub async fn start_enrollment(
        &self,
        user_id: &UserId,
        sealed: &str,
        expires_at: Timestamp,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO two_factor (user_id, pending_secret, pending_expires_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET pending_secret = $2, \
             pending_expires_at = $3, pending_failures = 0",
        )
        .bind(user_id.as_str())
        .bind(sealed)
        .bind(expires_at.millis())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Counts a wrong confirmation code against the enrollment `sealed`; the fifth
    /// voids it.
    pub async fn count_enrollment_failure(
        &self,
        user_id: &UserId,
        sealed: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE two_factor SET pending_failures = pending_failures + 1, \
             pending_secret = CASE WHEN pending_failures + 1 >= $3 THEN NULL ELSE pending_secret END, \
             pending_expires_at = CASE WHEN pending_failures + 1 >= $3 THEN NULL ELSE pending_expires_at END \
             WHERE user_id = $1 AND pending_secret = $2",
        )
        .bind(user_id.as_str())
        .bind(sealed)
        .bind(ENROLLMENT_MAX_FAILURES)
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Confirms the enrollment `sealed` with a code of `step`, in one transaction: the
    /// pending secret becomes the authenticator (replacing any earlier one), the step
    /// is spent, and a first confirmation stores `codes` as the backup codes. `None`
    /// when the enrollment is gone or expired, or the step was already spent; else
    /// whether an earlier authenticator was replaced.
    pub async fn confirm_enrollment(
        &self,
        user_id: &UserId,
        sealed: &str,
        step: i64,
        codes: Option<&[NewBackupCode]>,
    ) -> sqlx::Result<Option<bool>> {
        let now = Timestamp::now();
        let mut tx = self.pool().begin().await?;
        lock_user_row(&mut tx, user_id).await?;
        let Some(row) = sqlx::query(
            "SELECT secret FROM two_factor WHERE user_id = $1 AND pending_secret = $2 \
             AND pending_expires_at > $3 AND last_step < $4",
        )
        .bind(user_id.as_str())
        .bind(sealed)
        .bind(now.millis())
        .bind(step)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let replaced = row.try_get::<Option<String>, _>("secret")?.is_some();
        if !replaced {
            let Some(codes) = codes else {
                return Ok(None);
            };
            insert_backup_codes(&mut tx, user_id, codes).await?;
        }
        sqlx::query(
            "UPDATE two_factor SET secret = pending_secret, pending_secret = NULL, \
             pending_expires_at = NULL, pending_failures = 0, last_step = $2, \
             enabled_at = COALESCE(enabled_at, $3) WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .bind(step)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(replaced))
    }

    /// Accepts TOTP `step` for the user only when it is later than the last accepted
    /// one (RFC 6238 §5.2), and starts the failure count over (a right code, §8.5): of
    /// two concurrent submissions of one code, one passes. Not
    /// while the second factor is locked: a right code still in flight when concurrent
    /// wrong ones start a lock is refused (§8.5).
    pub async fn accept_step(&self, user_id: &UserId, step: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE two_factor SET last_step = $2, failures = 0 \
             WHERE user_id = $1 AND secret IS NOT NULL AND last_step < $2 \
             AND hard_locked = 0 AND (locked_until IS NULL OR locked_until <= $3)",
        )
        .bind(user_id.as_str())
        .bind(step)
        .bind(Timestamp::now().millis())
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts one rejected code (§8.5): each multiple of `threshold` starts a lock
    /// until `lock_until`; the hundredth locks until a password reset. Nothing is
    /// counted while a lock holds (`None` then).
    pub async fn record_code_failure(
        &self,
        user_id: &UserId,
        threshold: u32,
        lock_until: Timestamp,
    ) -> sqlx::Result<Option<CodeFailure>> {
        let now = Timestamp::now();
        let row = sqlx::query(
            "UPDATE two_factor SET failures = failures + 1, \
             locked_until = CASE WHEN (failures + 1) % $2 = 0 THEN $3 ELSE locked_until END, \
             hard_locked = CASE WHEN failures + 1 >= $5 THEN 1 ELSE hard_locked END \
             WHERE user_id = $1 AND secret IS NOT NULL AND hard_locked = 0 \
             AND (locked_until IS NULL OR locked_until <= $4) \
             RETURNING failures, hard_locked",
        )
        .bind(user_id.as_str())
        .bind(i64::from(threshold))
        .bind(lock_until.millis())
        .bind(now.millis())
        .bind(HARD_LOCK_FAILURES)
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(CodeFailure {
                failures: r.try_get("failures")?,
                hard_locked: r.try_get::<i64, _>("hard_locked")? != 0,
            })
        })
        .transpose()
    }

    /// A right code: the consecutive-failure count starts over.
    pub async fn clear_code_failures(&self, user_id: &UserId) -> sqlx::Result<()> {
        sqlx::query("UPDATE two_factor SET failures = 0 WHERE user_id = $1 AND failures <> 0")
            .bind(user_id.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Lifts the second-factor lock, the lasting one too, and resets the count (a
    /// completed password reset, `latch users unlock`).
    pub async fn unlock_two_factor(&self, user_id: &UserId) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE two_factor SET failures = 0, locked_until = NULL, hard_locked = 0 \
             WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Removes the second factor (§8.7 rule 1): secret, pending enrollment, count and
    /// lock, backup codes, tickets and trusted devices. Whether 2FA was on.
    pub async fn remove_two_factor(&self, user_id: &UserId) -> sqlx::Result<bool> {
        let mut tx = self.pool().begin().await?;
        lock_user_row(&mut tx, user_id).await?;
        let was_on = sqlx::query("DELETE FROM two_factor WHERE user_id = $1 RETURNING secret")
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<Option<String>, _>("secret"))
            .transpose()?
            .flatten()
            .is_some();
        for sql in [
            "DELETE FROM backup_codes WHERE user_id = $1",
            "DELETE FROM two_factor_tickets WHERE user_id = $1",
            "DELETE FROM trusted_devices WHERE user_id = $1",
        ] {
            sqlx::query(sql)
                .bind(user_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(was_on)
    }

    /// Replaces the user's backup codes with `codes`, while 2FA is on; whether it was.
    pub async fn replace_backup_codes(
        &self,
        user_id: &UserId,
        codes: &[NewBackupCode],
    ) -> sqlx::Result<bool> {
        let mut tx = self.pool().begin().await?;
        lock_user_row(&mut tx, user_id).await?;
        let on = sqlx::query("SELECT 1 FROM two_factor WHERE user_id = $1 AND secret IS NOT NULL")
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !on {
            return Ok(false);
        }
        insert_backup_codes(&mut tx, user_id, codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The unused backup codes with this lookup tag: (id, hash).
    pub async fn backup_candidates(
        &self,
        user_id: &UserId,
        tag: u8,
    ) -> sqlx::Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, code_hash FROM backup_codes \
             WHERE user_id = $1 AND tag = $2 AND used_at IS NULL",
        )
        .bind(user_id.as_str())
        .bind(i64::from(tag))
        .fetch_all(&*self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("code_hash")?)))
            .collect()
    }

    /// Uses a backup code, once: of two concurrent uses one gets `true`; never while
    /// the second factor is locked (as `accept_step`).
    pub async fn use_backup_code(&self, id: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE backup_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = backup_codes.user_id \
             AND (t.hard_locked <> 0 OR t.locked_until > $2))",
        )
        .bind(id)
        .bind(Timestamp::now().millis())
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many unused backup codes the user has.
    pub async fn backup_codes_remaining(&self, user_id: &UserId) -> sqlx::Result<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM backup_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id.as_str())
            .fetch_one(&*self.pool())
            .await?
            .try_get("n")
    }
}

async fn insert_backup_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
    codes: &[NewBackupCode],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
        .bind(user_id.as_str())
        .execute(&mut **tx)
        .await?;
    for c in codes {
        sqlx::query(
            "INSERT INTO backup_codes (id, user_id, tag, code_hash) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(user_id.as_str())
        .bind(i64::from(c.tag))
        .bind(&c.hash)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

crate::debug_redacted!(TwoFactorRow { pending_expires_at, failures, locked_until, hard_locked } hiding { secret, pending_secret });
crate::debug_redacted!(NewBackupCode { tag } hiding { hash });
