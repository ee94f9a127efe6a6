//! One-time tokens: verification links (per sign-up request) and reset links.

use super::*;

impl Store {
    pub async fn insert_token(&self, t: NewToken<'_>) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO one_time_tokens \
             (id, token_hash, user_id, purpose, password_hash, name, callback_url, expires_at, \
             created_at, new_email) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new_id())
        .bind(t.token_hash.as_str())
        .bind(t.user_id.as_str())
        .bind(t.purpose.as_str())
        .bind(t.password_hash)
        .bind(t.name)
        .bind(t.callback_url)
        .bind(t.expires_at.millis())
        .bind(Timestamp::now().millis())
        .bind(t.new_email)
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Voids every outstanding token of `purpose` for the user.
    pub async fn void_tokens(&self, user_id: &UserId, purpose: Purpose) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
        )
        .bind(Timestamp::now().millis())
        .bind(user_id.as_str())
        .bind(purpose.as_str())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// The user of a usable (unexpired, unused) reset token, without consuming it.
    pub async fn reset_token_user(&self, token_hash: &TokenHash) -> sqlx::Result<Option<UserId>> {
        let row = sqlx::query(
            "SELECT user_id FROM one_time_tokens WHERE token_hash = $1 \
             AND purpose = 'reset-password' AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash.as_str())
        .bind(Timestamp::now().millis())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| r.try_get("user_id").map(UserId::new))
            .transpose()
    }

    /// Stores a verification link of a sign-up request, then voids the links of
    /// every outstanding request but the newest [`MAX_OUTSTANDING_SIGNUPS`] (a newer
    /// request voids the oldest), in one transaction. Nothing is stored once the
    /// account is verified (a sign-up that raced the owner's verification): false.
    pub async fn insert_signup_link(&self, t: NewSignupLink<'_>) -> sqlx::Result<bool> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        // The user's row first, while still unverified: a verification running at the
        // same time either committed before (nothing is stored) or waits for this.
        let unverified = sqlx::query(
            "UPDATE users SET updated_at = updated_at WHERE id = $1 AND email_verified = 0",
        )
        .bind(t.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        if unverified.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO one_time_tokens \
             (id, token_hash, user_id, purpose, password_hash, name, callback_url, expires_at, \
              created_at, signup_request) \
             VALUES ($1, $2, $3, 'verify-email', $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id())
        .bind(t.token_hash.as_str())
        .bind(t.user_id.as_str())
        .bind(t.password_hash)
        .bind(t.name)
        .bind(t.callback_url)
        .bind(t.expires_at.millis())
        .bind(now)
        .bind(t.request)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL \
             AND COALESCE(signup_request, id) NOT IN ( \
                 SELECT COALESCE(signup_request, id) FROM one_time_tokens \
                 WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL \
                 AND expires_at > $1 \
                 GROUP BY COALESCE(signup_request, id) \
                 ORDER BY COALESCE(signup_request, id) DESC LIMIT $3)",
        )
        .bind(now)
        .bind(t.user_id.as_str())
        .bind(MAX_OUTSTANDING_SIGNUPS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The password hash of the user's newest outstanding sign-up request (`None`
    /// when there is none, or it carries no password): before verification, sign-in
    /// compares with this one hash only.
    pub async fn newest_outstanding_signup_hash(
        &self,
        user_id: &UserId,
    ) -> sqlx::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT password_hash FROM one_time_tokens \
             WHERE user_id = $1 AND purpose = 'verify-email' AND consumed_at IS NULL \
             AND expires_at > $2 ORDER BY signup_request DESC LIMIT 1",
        )
        .bind(user_id.as_str())
        .bind(Timestamp::now().millis())
        .fetch_optional(&*self.pool())
        .await?;
        Ok(row
            .map(|r| r.try_get::<Option<String>, _>("password_hash"))
            .transpose()?
            .flatten())
    }

    /// The newest sign-up request of the user, outstanding or not (resend mails a
    /// link for it).
    pub async fn newest_signup(&self, user_id: &UserId) -> sqlx::Result<Option<SignupRequest>> {
        let row = sqlx::query(
            "SELECT signup_request, password_hash, name, callback_url FROM one_time_tokens \
             WHERE user_id = $1 AND purpose = 'verify-email' AND signup_request IS NOT NULL \
             ORDER BY signup_request DESC, created_at DESC LIMIT 1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(SignupRequest {
                request: r.try_get("signup_request")?,
                password_hash: r.try_get("password_hash")?,
                name: r.try_get("name")?,
                callback_url: r.try_get("callback_url")?,
            })
        })
        .transpose()
    }

    /// Verifies an account from a verification link, atomically: the link is consumed
    /// (exactly once, even under concurrency), every other outstanding link of the user
    /// is voided, and the link's name is applied. Its password is applied only when its
    /// sign-up request was the account's only outstanding one: when several were, the
    /// mails looked alike and one may be a stranger's (docs/api.md §4 "Unverified
    /// accounts"). `None`: the token is unknown, used, voided or expired.
    pub async fn consume_verification(
        &self,
        token_hash: &TokenHash,
    ) -> sqlx::Result<Option<VerifiedLink>> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        let Some(token) = consume_in(&mut tx, token_hash, Purpose::VerifyEmail, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        // The user's row before counting and voiding: a sign-up storing a link at the
        // same time waits, then finds the account verified.
        lock_user_row(&mut tx, &token.user_id).await?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT signup_request) FROM one_time_tokens \
             WHERE user_id = $1 AND purpose = 'verify-email' AND consumed_at IS NULL \
             AND expires_at > $2 AND signup_request <> $3",
        )
        .bind(token.user_id.as_str())
        .bind(now)
        .bind(token.signup_request.as_deref().unwrap_or(""))
        .fetch_one(&mut *tx)
        .await?;
        let password_applied = others == 0 && token.password_hash.is_some();
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(token.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET email_verified = 1, \
             password_hash = CASE WHEN email_verified = 0 THEN COALESCE($1, password_hash) \
                 ELSE password_hash END, \
             name = CASE WHEN email_verified = 0 THEN COALESCE($2, name) ELSE name END, \
             updated_at = $3 \
             WHERE id = $4",
        )
        .bind(
            password_applied
                .then_some(token.password_hash.as_deref())
                .flatten(),
        )
        .bind(token.name.as_deref())
        .bind(now)
        .bind(token.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(VerifiedLink {
            user_id: token.user_id,
            password_applied,
        }))
    }

    /// Completes a password reset atomically: consumes the reset token, sets the
    /// password, marks the email verified, voids outstanding verification and reset
    /// links, revokes every session, and lifts the second-factor lock, voiding its
    /// tickets and trusted devices. Returns the user id, or `None` for a bad token.
    pub async fn consume_reset(
        &self,
        token_hash: &TokenHash,
        new_hash: &str,
    ) -> sqlx::Result<Option<UserId>> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        let Some(token) = consume_in(&mut tx, token_hash, Purpose::ResetPassword, now).await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 WHERE user_id = $2 AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(token.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, email_verified = 1, updated_at = $2 WHERE id = $3",
        )
        .bind(new_hash)
        .bind(now)
        .bind(token.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        // The second factor stays on (ASVS 6.4.3), but its lock and count are lifted,
        // pending second steps are void and no device stays trusted (docs/api.md §4).
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM two_factor_tickets WHERE user_id = $1",
            "DELETE FROM trusted_devices WHERE user_id = $1",
            "UPDATE two_factor SET failures = 0, locked_until = NULL, hard_locked = 0 \
             WHERE user_id = $1",
        ] {
            sqlx::query(sql)
                .bind(token.user_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(token.user_id))
    }
}

/// Consumes one token inside a transaction: a single conditional UPDATE, so only one
/// of several concurrent uses can succeed.
pub(super) async fn consume_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token_hash: &TokenHash,
    purpose: Purpose,
    now: i64,
) -> sqlx::Result<Option<TokenRow>> {
    let row = sqlx::query(
        "UPDATE one_time_tokens SET consumed_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND consumed_at IS NULL AND expires_at > $1 \
         RETURNING id, user_id, password_hash, name, callback_url, signup_request, new_email",
    )
    .bind(now)
    .bind(token_hash.as_str())
    .bind(purpose.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            id: r.try_get("id")?,
            user_id: UserId::new(r.try_get("user_id")?),
            password_hash: r.try_get("password_hash")?,
            name: r.try_get("name")?,
            callback_url: r.try_get("callback_url")?,
            signup_request: r.try_get("signup_request")?,
            new_email: r.try_get("new_email")?,
        })
    })
    .transpose()
}
