//! What the operator commands do (docs/api.md §1), through the same store and mail as
//! the API.

use super::*;

impl AppState {
    async fn account_for_operator(&self, raw: &str) -> AppResult<Option<UserRow>> {
        let Ok(email) = Email::parse(raw, "email") else {
            return Ok(None);
        };
        Ok(self.inner.store.user_by_email(email.as_str()).await?)
    }

    /// `users revoke-sessions`: how many sessions went; `None` without an account.
    pub async fn operator_revoke_sessions(&self, email: &str) -> AppResult<Option<u64>> {
        let Some(user) = self.account_for_operator(email).await? else {
            return Ok(None);
        };
        Ok(Some(
            self.inner.store.delete_sessions_of(&user.id, None).await?,
        ))
    }

    /// `users unlock`: lifts the password lock and the second-factor lock (the one
    /// that lasts until a password reset too) and resets both counts.
    pub async fn operator_unlock(&self, email: &str) -> AppResult<Option<()>> {
        let Some(user) = self.account_for_operator(email).await? else {
            return Ok(None);
        };
        self.inner.store.clear_failures(&user.email).await?;
        self.inner.store.unlock_two_factor(&user.id).await?;
        Ok(Some(()))
    }

    /// `users reset-two-factor`: removes the second factor, revokes every session and
    /// mails `two-factor-reset` (awaited: the process exits right after).
    pub async fn operator_reset_two_factor(&self, email: &str) -> AppResult<Option<u64>> {
        let Some(user) = self.account_for_operator(email).await? else {
            return Ok(None);
        };
        let store = &self.inner.store;
        store.remove_two_factor(&user.id).await?;
        let revoked = store.delete_sessions_of(&user.id, None).await?;
        let ctx = mail::NoticeContext {
            at: Timestamp::now(),
            ip: None,
            user_agent: Some("latch users reset-two-factor (operator)"),
            app_url: self.inner.cfg.app_url.as_str(),
        };
        let email = mail::notice_email(Notice::TwoFactorReset, &user.name, &ctx);
        self.inner
            .mailer
            .send(&user.email, email)
            .await
            .context("mailing two-factor-reset")?;
        Ok(Some(revoked))
    }
}
