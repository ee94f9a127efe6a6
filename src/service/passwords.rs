//! Forgotten, reset, changed and first passwords.

use super::*;
use commands::{LinkRequest, NewPassword, PasswordChange, PasswordReset};

impl AppState {
    /// Mails a reset link when the account exists; the answer and its timing do not
    /// depend on that, because the lookup and the mail run in the background.
    #[tracing::instrument(skip_all)]
    pub async fn forget_password(
        &self,
        input: impl Submission<LinkRequest>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let LinkRequest { email, redirect } = self.admit(Flow::ForgetPassword, meta, input).await?;
        let base = match self.redirect(redirect.as_deref())? {
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

    pub(super) async fn forget_work(&self, email: Email, base: Url) -> AppResult<()> {
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
                new_email: None,
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
        input: impl Submission<PasswordReset>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let PasswordReset {
            token,
            new_password: password,
        } = self.admit(Flow::ResetPassword, meta, input).await?;
        let store = &self.inner.store;
        let hash_of_token = token_hash(token.as_str());
        // Peek (without consuming) to check the new password against the user's data;
        // an invalid password then consumes nothing.
        let user = match store.reset_token_user(&hash_of_token).await? {
            Some(id) => store.user_by_id(&id).await?,
            None => None,
        }
        .ok_or_else(AppError::invalid_token)?;
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
        self.finalize_setup(&user).await?;
        self.send_notice(&user, Notice::PasswordReset, meta);
        Ok(())
    }

    /// Changes the password of the signed-in user; a wrong current password counts
    /// toward lockout.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        p: &Principal,
        input: impl Submission<PasswordChange>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let PasswordChange {
            current,
            new,
            revoke_other_sessions,
        } = self.admit(Flow::ChangePassword, meta, input).await?;
        let email = Email::parse(&p.user.email, "email")?;
        self.check_lock(&email).await?;
        self.inner
            .policy
            .check(&new, &email, Some(&p.user.name), "newPassword")?;
        self.verify_current_password(p, &email, &current).await?;
        let hash = self.inner.hasher.hash(&new).await?;
        let store = &self.inner.store;
        store.set_password(&p.user.id, Some(&hash)).await?;
        store.clear_failures(email.as_str()).await?;
        if revoke_other_sessions {
            store
                .delete_sessions_of(&p.user.id, Some(&p.session.id))
                .await?;
            self.forget_other_devices(p, meta).await?;
        }
        self.send_notice(&p.user, Notice::PasswordChanged, meta);
        Ok(())
    }

    /// Gives a password to an account that has none.
    #[tracing::instrument(skip_all)]
    pub async fn set_password(
        &self,
        p: &Principal,
        input: impl Submission<NewPassword>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let NewPassword { new, proof } = self.admit(Flow::SetPassword, meta, input).await?;
        if p.user.has_password {
            return Err(AppError::password_already_set());
        }
        let email = Email::parse(&p.user.email, "email")?;
        self.inner
            .policy
            .check(&new, &email, Some(&p.user.name), "newPassword")?;
        self.step_up(p, &proof, meta).await?;
        let hash = self.inner.hasher.hash(&new).await?;
        if !self
            .inner
            .store
            .set_password_if_none(&p.user.id, &hash)
            .await?
        {
            return Err(AppError::password_already_set());
        }
        self.send_notice(&p.user, Notice::PasswordChanged, meta);
        Ok(())
    }
}
