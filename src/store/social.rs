//! Social sign-in: authorization states and linked identities.

use super::*;

impl Store {
    pub async fn insert_oauth_state(&self, s: NewOauthState<'_>) -> sqlx::Result<()> {
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, provider, pkce_verifier, nonce, callback_url, \
             error_callback_url, link_user_id, expires_at, created_at, binding_hash, \
             two_factor_callback_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(s.state_hash.as_str())
        .bind(s.provider)
        .bind(s.pkce_verifier)
        .bind(s.nonce)
        .bind(s.callback_url)
        .bind(s.error_callback_url)
        .bind(s.link_user_id.map(UserId::as_str))
        .bind(s.expires_at.millis())
        .bind(now.millis())
        .bind(s.binding_hash.as_str())
        .bind(s.two_factor_callback_url)
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Consumes a state of `provider` started by the browser holding `binding_hash`'s
    /// cookie, exactly once, if unexpired. A mismatch consumes nothing.
    pub async fn consume_oauth_state(
        &self,
        state_hash: &TokenHash,
        provider: &str,
        binding_hash: &TokenHash,
    ) -> sqlx::Result<Option<OauthStateRow>> {
        let now = Timestamp::now().millis();
        let row = sqlx::query(
            "UPDATE oauth_states SET consumed_at = $1 \
             WHERE state_hash = $2 AND provider = $3 AND binding_hash = $4 \
             AND consumed_at IS NULL AND expires_at > $1 \
             RETURNING pkce_verifier, nonce, callback_url, error_callback_url, link_user_id, \
             two_factor_callback_url",
        )
        .bind(now)
        .bind(state_hash.as_str())
        .bind(provider)
        .bind(binding_hash.as_str())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(OauthStateRow {
                pkce_verifier: r.try_get("pkce_verifier")?,
                nonce: r.try_get("nonce")?,
                callback_url: r.try_get("callback_url")?,
                error_callback_url: r.try_get("error_callback_url")?,
                two_factor_callback_url: r.try_get("two_factor_callback_url")?,
                link_user_id: r
                    .try_get::<Option<String>, _>("link_user_id")?
                    .map(UserId::new),
            })
        })
        .transpose()
    }

    /// The user a `(provider, subject)` identity is linked to.
    pub async fn linked_user(&self, provider: &str, subject: &str) -> sqlx::Result<Option<UserId>> {
        let row =
            sqlx::query("SELECT user_id FROM linked_accounts WHERE provider = $1 AND subject = $2")
                .bind(provider)
                .bind(subject)
                .fetch_optional(&*self.pool())
                .await?;
        row.map(|r| r.try_get("user_id").map(UserId::new))
            .transpose()
    }

    /// Links an identity; false when it is already linked (to anyone).
    pub async fn link(
        &self,
        user_id: &UserId,
        provider: &str,
        subject: &str,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO linked_accounts (id, user_id, provider, subject, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, subject) DO NOTHING",
        )
        .bind(new_id())
        .bind(user_id.as_str())
        .bind(provider)
        .bind(subject)
        .bind(Timestamp::now().millis())
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inserts a user from a provider's claims; `None` when the email is taken.
    pub async fn insert_social_user(
        &self,
        email: &str,
        name: &str,
        image: Option<&str>,
        verified: bool,
    ) -> sqlx::Result<Option<UserId>> {
        let id = UserId::new(new_id());
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "INSERT INTO users (id, email, name, email_verified, image, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(email)
        .bind(name)
        .bind(i64::from(verified))
        .bind(image)
        .bind(now)
        .execute(&*self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(id))
    }

    /// Marks a user verified because a provider asserted the email. With
    /// `drop_signup_credentials` (an account someone signed up for but never
    /// verified), the password and every outstanding verification link are removed:
    /// whoever typed them has not proven they own the email (account pre-hijacking).
    pub async fn verify_by_provider(
        &self,
        user_id: &UserId,
        drop_signup_credentials: bool,
    ) -> sqlx::Result<()> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE users SET email_verified = 1, updated_at = $1, \
             password_hash = CASE WHEN $2 = 1 THEN NULL ELSE password_hash END WHERE id = $3",
        )
        .bind(now)
        .bind(i64::from(drop_signup_credentials))
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn linked_accounts(&self, user_id: &UserId) -> sqlx::Result<Vec<LinkedRow>> {
        let rows = sqlx::query(
            "SELECT provider, subject, created_at FROM linked_accounts \
             WHERE user_id = $1 ORDER BY created_at, provider",
        )
        .bind(user_id.as_str())
        .fetch_all(&*self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkedRow {
                    provider: r.try_get("provider")?,
                    subject: r.try_get("subject")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Removes linked identities of `provider` (one subject, or all); the count removed.
    pub async fn unlink(
        &self,
        user_id: &UserId,
        provider: &str,
        subject: Option<&str>,
    ) -> sqlx::Result<u64> {
        let done = match subject {
            Some(s) => sqlx::query(
                "DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2 AND subject = $3",
            )
            .bind(user_id.as_str())
            .bind(provider)
            .bind(s)
            .execute(&*self.pool())
            .await?,
            None => {
                sqlx::query("DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2")
                    .bind(user_id.as_str())
                    .bind(provider)
                    .execute(&*self.pool())
                    .await?
            }
        };
        Ok(done.rows_affected())
    }
}
