//! Account self-service: profile, email change, deletion (docs/api.md §11), and the
//! security notices they and the password flows send (§12).

use super::*;
use crate::mail::NoticeContext;
use crate::store::{EmailChanged, NewEmailChange};
use commands::{EmailChange, LinkToken, ProfileUpdate, Proof};

/// Email-change links live 24 h.
const CHANGE_EMAIL_TTL_SECS: u64 = 24 * 3600;

/// A confirmed email change.
pub struct EmailConfirmed {
    pub user: UserRow,
    /// Where to send the browser, when the link named a `callbackURL`.
    pub redirect: Option<Url>,
}

impl AppState {
    /// Mails a security notice about the request in `meta` to `user` (in the
    /// background; outside the hourly cap, which only `email-in-use` counts toward).
    pub(super) fn send_notice(&self, user: &UserRow, notice: Notice, meta: &RequestMeta) {
        let ctx = NoticeContext {
            at: Timestamp::now(),
            ip: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent.as_deref(),
            app_url: self.inner.cfg.app_url.as_str(),
        };
        let email = mail::notice_email(notice, &user.name, &ctx);
        self.send_in_background(&user.email, notice.kind(), email);
    }

    /// Changes the name and picture; a field left out keeps its value.
    #[tracing::instrument(skip_all)]
    pub async fn update_user(&self, p: &Principal, update: ProfileUpdate) -> AppResult<UserRow> {
        let store = &self.inner.store;
        store
            .update_profile(
                &p.user.id,
                update.name.as_ref().map(|n| n.as_str()),
                update.image.as_ref().map(Option::as_deref),
            )
            .await?;
        Ok(store
            .user_by_id(&p.user.id)
            .await?
            .context("user vanished")?)
    }

    /// Mails a link to the new address (or, when a verified account has it, an
    /// `email-in-use` notice there instead): the same answer either way, the work
    /// done in the background.
    #[tracing::instrument(skip_all)]
    pub async fn change_email(
        &self,
        p: &Principal,
        input: impl Submission<EmailChange>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let EmailChange {
            new_email,
            callback_url,
            proof,
        } = self.admit(Flow::ChangeEmail, meta, input).await?;
        if new_email.as_str() == p.user.email {
            return Err(AppError::invalid_field(
                "newEmail",
                "This is already your email address.",
            ));
        }
        let callback = self.redirect(callback_url.as_deref())?;
        self.step_up(p, &proof, meta).await?;
        let requested_at = Timestamp::now();
        let this = self.clone();
        let (user, meta) = (p.user.clone(), meta.clone());
        tokio::spawn(async move {
            let work = this.change_email_work(user, new_email, callback, requested_at, meta);
            if let Err(e) = work.await {
                e.log();
            }
        });
        Ok(())
    }

    async fn change_email_work(
        &self,
        user: UserRow,
        new_email: Email,
        callback: Option<Url>,
        requested_at: Timestamp,
        meta: RequestMeta,
    ) -> AppResult<()> {
        let store = &self.inner.store;
        let holder = store.verified_owner_of(new_email.as_str()).await?;
        // The link or the notice stands in for the other, and counts toward the
        // requesting account's cap (docs/api.md §11.2).
        let kind = if holder.is_some() {
            Notice::EmailInUse.kind()
        } else {
            "change-email"
        };
        if !store
            .reserve_email(&user.id, kind, HOURLY_EMAIL_CAP, None)
            .await?
        {
            return Ok(());
        }
        if let Some(holder) = holder {
            self.send_notice(&holder, Notice::EmailInUse, &meta);
            return Ok(());
        }
        let token = new_token();
        let stored = store
            .store_email_change_link(NewEmailChange {
                user_id: &user.id,
                token_hash: &token_hash(&token),
                new_email: new_email.as_str(),
                callback_url: callback.as_ref().map(Url::as_str),
                requested_at,
                expires_at: requested_at.plus_secs(CHANGE_EMAIL_TTL_SECS),
            })
            .await?;
        if !stored {
            // A newer request's link is out already: this one is void.
            return Ok(());
        }
        let link = self.link_to("/auth/confirm-email-change", &token, callback.as_ref())?;
        self.send_in_background(
            new_email.as_str(),
            "change-email",
            mail::change_email_email(&user.name, new_email.as_str(), link.as_str()),
        );
        Ok(())
    }

    /// Follows an email-change link: the account's address becomes the new one,
    /// verified; the old address gets `email-changed`. Sessions are kept.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_email_change(
        &self,
        token: &str,
        callback_url: Option<&str>,
        meta: &RequestMeta,
    ) -> AppResult<EmailConfirmed> {
        self.gate(Flow::ConfirmEmailChange, meta, None).await?;
        let redirect = self.redirect(callback_url)?;
        let token = LinkToken::parse(token)?;
        let store = &self.inner.store;
        let (user_id, old_email) = match store
            .confirm_email_change(&token_hash(token.as_str()))
            .await?
        {
            EmailChanged::Done { user_id, old_email } => (user_id, old_email),
            EmailChanged::Taken => return Err(AppError::user_exists()),
            EmailChanged::Invalid => return Err(AppError::invalid_token()),
        };
        let user = store.user_by_id(&user_id).await?.context("user vanished")?;
        let to_old = UserRow {
            email: old_email,
            ..user.clone()
        };
        self.send_notice(&to_old, Notice::EmailChanged, meta);
        Ok(EmailConfirmed { user, redirect })
    }

    /// Deletes the account and everything of it, after a step-up.
    #[tracing::instrument(skip_all)]
    pub async fn delete_user(
        &self,
        p: &Principal,
        input: impl Submission<Proof>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let proof = self.admit(Flow::DeleteUser, meta, input).await?;
        self.step_up(p, &proof, meta).await?;
        if self.inner.store.delete_user(&p.user.id).await? {
            self.send_notice(&p.user, Notice::AccountDeleted, meta);
        }
        Ok(())
    }
}
