//! Sign-up, email verification and resend (docs/api.md §4, "Unverified accounts").

use super::*;
use commands::{LinkRequest, LinkToken, NewAccount};

impl AppState {
    /// Creates an unverified account (or finds the unverified one) and mails a
    /// verification link bound to this request's password and name.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(
        &self,
        input: impl Submission<NewAccount>,
        meta: &RequestMeta,
    ) -> AppResult<UserRow> {
        let NewAccount {
            email,
            name,
            password,
            callback_url,
        } = self.admit(Flow::SignUp, meta, input).await?;
        let callback = self.redirect(callback_url.as_deref())?;

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
            // Deliberate (docs/api.md §4): a verified email is a 409, guarded by Turnstile
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
        Ok(user)
    }

    /// Stores a verification link of a sign-up request and mails it (delivery runs in
    /// the background).
    pub(super) async fn issue_verification(
        &self,
        user: &UserRow,
        request: &SignupLink,
    ) -> AppResult<()> {
        let token = new_token();
        let stored = self
            .inner
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
        if !stored {
            // Verified meanwhile (by its owner's link or a provider): no link to mail.
            return Ok(());
        }
        let link = self.link_to("/auth/verify-email", &token, request.callback.as_ref())?;
        self.send_in_background(
            &user.email,
            "verify-email",
            mail::verification_email(&request.name, link.as_str()),
        );
        Ok(())
    }

    /// A mailed link to one of latch's own routes: `<public URL>PATH?token=…` and the
    /// request's checked `callbackURL`.
    pub(super) fn link_to(
        &self,
        path: &str,
        token: &str,
        callback: Option<&Url>,
    ) -> AppResult<Url> {
        let mut link = self
            .inner
            .cfg
            .public_url
            .join(path)
            .context("a mailed link")?;
        link.query_pairs_mut().append_pair("token", token);
        if let Some(cb) = callback {
            link.query_pairs_mut()
                .append_pair("callbackURL", cb.as_str());
        }
        Ok(link)
    }

    pub(super) fn send_in_background(&self, to: &str, kind: &'static str, email: mail::Email) {
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
        let token = LinkToken::parse(token)?;
        let store = &self.inner.store;
        let consumed = store
            .consume_verification(&token_hash(token.as_str()))
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
        // A verified account holds no verification link, so 2FA cannot be on here; if it
        // ever were, a link must not stand in for the second factor.
        if self.enabled_two_factor(&user.id).await?.is_some() {
            return Err(AppError::invalid_token());
        }
        let start = second_step::SessionStart::of(meta, true, vec!["email-link".to_string()]);
        let signed_in = self.open_session(user, start).await?;
        Ok(Verified {
            signed_in,
            redirect,
        })
    }

    /// Creates the personal workspace, exactly once per user.
    pub(super) async fn finalize_setup(&self, user: &UserRow) -> AppResult<()> {
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
        input: impl Submission<LinkRequest>,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        let LinkRequest { email, redirect } =
            self.admit(Flow::ResendVerification, meta, input).await?;
        let callback = self.redirect(redirect.as_deref())?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.resend_work(email, callback).await {
                e.log();
            }
        });
        Ok(())
    }

    pub(super) async fn resend_work(&self, email: Email, callback: Option<Url>) -> AppResult<()> {
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
    pub(super) fn slugs_are_url_safe_and_unique() {
        let a = workspace_slug("Ada  Lovelace!");
        assert!(a.starts_with("ada-lovelace-"), "{a}");
        assert_ne!(a, workspace_slug("Ada  Lovelace!"));
        assert!(workspace_slug("日本").starts_with("workspace-"));
    }
}
