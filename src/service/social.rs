//! Social sign-in and account linking (docs/api.md §4 social routes, §6 "Social sign-in").

use anyhow::Context;
use url::Url;

use super::commands::{Callback, SocialStart};
use super::{AppState, Principal, RequestMeta, SignInOutcome, SignInStep};
use crate::domain::{Email, Name, Timestamp, UserId, new_token, token_hash, usable_token};
use crate::error::{AppError, AppResult};
use crate::oidc::SocialClaims;
use crate::redirect::with_query;
use crate::store::{NewOauthState, UserRow, new_request_id};

/// A state lives 10 minutes.
const STATE_TTL_SECS: u64 = 600;

/// A started flow: the provider's authorization URL, and the value of the
/// `oauth_state` cookie that binds the flow to the browser that started it.
pub struct StartedFlow {
    pub url: Url,
    pub binding: String,
}

/// Where a finished callback sends the browser, and the sign-in it made: a session or
/// a second step (none for a link flow, which keeps the caller's session).
pub struct CallbackOutcome {
    pub redirect: Url,
    pub signed_in: Option<SignInOutcome>,
}

/// A failed callback: the error, and the `errorCallbackURL?error=…` to send the browser
/// to when the state carried one.
pub struct CallbackFailure {
    pub error: AppError,
    pub redirect: Option<Url>,
}

impl From<AppError> for CallbackFailure {
    fn from(error: AppError) -> Self {
        CallbackFailure {
            error,
            redirect: None,
        }
    }
}

impl AppState {
    /// Starts a social sign-in (or, with `link_to`, a link flow for that user): stores
    /// the state server-side with the hash of a fresh browser binding, and returns the
    /// provider's authorization URL and the binding for the `oauth_state` cookie.
    /// A credential operation: it draws from the client's rate-limit quota first.
    pub async fn social_start(
        &self,
        start: SocialStart,
        link_to: Option<&Principal>,
        meta: &RequestMeta,
    ) -> AppResult<StartedFlow> {
        let provider = start.provider.as_str();
        self.inner.guard.rate_limit(meta.ip)?;
        let p = self
            .inner
            .providers
            .get(provider)
            .ok_or_else(|| AppError::not_found("There is no such sign-in provider."))?;
        let callback = self.redirect(start.callback_url.as_deref())?;
        let error_callback = self.redirect(start.error_callback_url.as_deref())?;
        let two_factor_callback = self.redirect(start.two_factor_callback_url.as_deref())?;
        let flow = p.start().await.map_err(|e| {
            tracing::warn!(provider, error = format!("{e:#}"), "provider unavailable");
            AppError::provider_error("The sign-in provider is unavailable. Try again shortly.")
        })?;
        let binding = new_token();
        self.inner
            .store
            .insert_oauth_state(NewOauthState {
                state_hash: &token_hash(&flow.state),
                binding_hash: &token_hash(&binding),
                provider,
                pkce_verifier: &flow.pkce_verifier,
                nonce: &flow.nonce,
                callback_url: callback.as_ref().map(Url::as_str),
                error_callback_url: error_callback.as_ref().map(Url::as_str),
                two_factor_callback_url: two_factor_callback.as_ref().map(Url::as_str),
                link_user_id: link_to.map(|p| &p.user.id),
                expires_at: Timestamp::now().plus_secs(STATE_TTL_SECS),
            })
            .await?;
        Ok(StartedFlow {
            url: flow.url,
            binding,
        })
    }

    /// Finishes a social sign-in or link flow at `GET /auth/callback/{provider}`.
    #[tracing::instrument(skip_all, fields(provider))]
    /// `binding` is the browser's `oauth_state` cookie: without the one this flow's
    /// start set, nothing is consumed and the answer is `INVALID_STATE` (docs/api.md §6),
    /// so a flow started in one browser cannot be finished in another (login CSRF,
    /// link CSRF). OWASP ASVS 5.0 V10.1.2 (the client binds the flow to the user agent).
    pub async fn social_callback(
        &self,
        provider: &str,
        q: Callback,
        binding: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<CallbackOutcome, CallbackFailure> {
        let p = self
            .inner
            .providers
            .get(provider)
            .ok_or_else(|| AppError::not_found("There is no such sign-in provider."))?;
        let state = q
            .state
            .as_deref()
            .filter(usable_token)
            .ok_or_else(AppError::invalid_state)?;
        let binding = binding
            .filter(usable_token)
            .ok_or_else(AppError::invalid_state)?;
        // Single use, unexpired, bound to this provider and to this browser: a
        // replayed, expired, tampered, other provider's or other browser's state
        // finds nothing.
        let st = self
            .inner
            .store
            .consume_oauth_state(&token_hash(state), provider, &token_hash(binding))
            .await
            .map_err(AppError::from)?
            .ok_or_else(AppError::invalid_state)?;
        let error_redirect = st
            .error_callback_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        let fail = |error: AppError| CallbackFailure {
            redirect: error_redirect
                .as_ref()
                .map(|u| with_query(u, "error", error.kind().redirect_code())),
            error,
        };

        let claims = verified_claims(&p, &q, &st).await.map_err(fail)?;

        let callback = match st.callback_url.as_deref().map(Url::parse) {
            Some(Ok(u)) => u,
            _ => self.inner.cfg.app_url.clone(),
        };
        let signed_in = self
            .decide(provider, &claims, st.link_user_id.as_ref(), &callback, meta)
            .await
            .map_err(fail)?;
        // A second step to take: its own landing (default: the callback with
        // `twoFactor=required`); the ticket travels only as a cookie (§8.7).
        let redirect = match signed_in.as_ref().map(|o| &o.step) {
            Some(SignInStep::SecondFactor(_)) => {
                match st.two_factor_callback_url.as_deref().map(Url::parse) {
                    Some(Ok(u)) => u,
                    _ => with_query(&callback, "twoFactor", "required"),
                }
            }
            _ => callback,
        };
        Ok(CallbackOutcome {
            redirect,
            signed_in,
        })
    }

    /// The decision order of docs/api.md §6 (Social sign-in) once the ID token is
    /// verified: one function per step.
    pub(super) async fn decide(
        &self,
        provider: &str,
        claims: &SocialClaims,
        link_user: Option<&UserId>,
        callback: &Url,
        meta: &RequestMeta,
    ) -> AppResult<Option<SignInOutcome>> {
        if let Some(uid) = link_user {
            return self
                .link_to_session_user(provider, claims, uid)
                .await
                .map(|()| None);
        }
        if let Some(uid) = self
            .inner
            .store
            .linked_user(provider, &claims.subject)
            .await?
        {
            return self
                .sign_in_known(provider, claims, &uid, meta)
                .await
                .map(Some);
        }
        let email = claim_email(claims).ok_or_else(|| {
            AppError::provider_error("The provider did not share a usable email address.")
        })?;
        if let Some(user) = self.inner.store.user_by_email(email.as_str()).await? {
            return self
                .link_existing(provider, claims, user, meta)
                .await
                .map(Some);
        }
        self.create_from_claims(provider, claims, &email, callback, meta)
            .await
            .map(Some)
    }

    /// Step 1: a link flow links the subject to the session's user; already linked to
    /// that user is a success, to someone else 409.
    async fn link_to_session_user(
        &self,
        provider: &str,
        claims: &SocialClaims,
        uid: &UserId,
    ) -> AppResult<()> {
        let store = &self.inner.store;
        if !store.link(uid, provider, &claims.subject).await? {
            let owner = store.linked_user(provider, &claims.subject).await?;
            if owner.as_ref() != Some(uid) {
                return Err(AppError::account_already_linked());
            }
        }
        Ok(())
    }

    /// Step 2: a known subject signs its user in; a user still unverified is verified
    /// first when the provider now asserts the user's email.
    async fn sign_in_known(
        &self,
        provider: &str,
        claims: &SocialClaims,
        uid: &UserId,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let user = self.load_user(uid).await?;
        if !user.email_verified {
            let asserted = claims.email_verified
                && claim_email(claims).is_some_and(|e| e.as_str() == user.email);
            if !asserted {
                return Err(AppError::email_not_verified());
            }
            self.inner.store.verify_by_provider(uid, false).await?;
            self.finalize_setup(&user).await?;
        }
        let user = self.load_user(uid).await?;
        self.finish_first_factor(user, true, &format!("oidc:{provider}"), None, meta)
            .await
    }

    /// Step 4: no account: a new user, named under the rules of docs/api.md §2;
    /// signed in when the provider asserts the email, else mailed a verification link
    /// and answered `EMAIL_NOT_VERIFIED`.
    async fn create_from_claims(
        &self,
        provider: &str,
        claims: &SocialClaims,
        email: &Email,
        callback: &Url,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        let store = &self.inner.store;
        let name = Name::from_claim(claims.name.as_deref(), email.local_part());
        let Some(uid) = store
            .insert_social_user(
                email.as_str(),
                name.as_str(),
                claims.picture.as_deref(),
                claims.email_verified,
            )
            .await?
        else {
            // Someone created the account meanwhile: treat it as an existing account.
            let user = store
                .user_by_email(email.as_str())
                .await?
                .context("user vanished during social sign-in")?;
            return self.link_existing(provider, claims, user, meta).await;
        };
        if !store.link(&uid, provider, &claims.subject).await? {
            return Err(AppError::account_already_linked());
        }
        let user = self.load_user(&uid).await?;
        if claims.email_verified {
            self.finalize_setup(&user).await?;
            let user = self.load_user(&uid).await?;
            return self
                .finish_first_factor(user, true, &format!("oidc:{provider}"), None, meta)
                .await;
        }
        if store
            .reserve_email(&uid, "verify-email", super::HOURLY_EMAIL_CAP, None)
            .await?
        {
            let request = super::SignupLink {
                request: new_request_id(),
                password_hash: None,
                name: name.as_str().to_string(),
                callback: Some(callback.clone()),
            };
            self.issue_verification(&user, &request).await?;
        }
        Err(AppError::email_not_verified())
    }

    /// Step 3: link `user` (same email) when the provider asserts the email, verifying
    /// an unverified account and dropping what whoever signed it up had set.
    pub(super) async fn link_existing(
        &self,
        provider: &str,
        claims: &SocialClaims,
        user: UserRow,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        if !claims.email_verified {
            return Err(AppError::account_not_linked());
        }
        let store = &self.inner.store;
        if !store.link(&user.id, provider, &claims.subject).await? {
            let owner = store.linked_user(provider, &claims.subject).await?;
            if owner.as_ref() != Some(&user.id) {
                return Err(AppError::account_already_linked());
            }
        }
        if !user.email_verified {
            store.verify_by_provider(&user.id, true).await?;
        }
        self.finalize_setup(&user).await?;
        let user = self.load_user(&user.id).await?;
        self.finish_first_factor(user, true, &format!("oidc:{provider}"), None, meta)
            .await
    }

    pub(super) async fn load_user(&self, id: &UserId) -> AppResult<UserRow> {
        Ok(self
            .inner
            .store
            .user_by_id(id)
            .await?
            .context("user vanished")?)
    }
}

/// The provider's answer at the callback, checked: no `error`, the right issuer, a
/// code, and an ID token that the code exchange yields and that verifies.
async fn verified_claims(
    p: &crate::oidc::Provider,
    q: &Callback,
    st: &crate::store::OauthStateRow,
) -> AppResult<SocialClaims> {
    let provider = p.cfg.name.as_str();
    if let Some(err) = q.error.as_deref() {
        tracing::info!(provider, error = err, "provider refused the authorization");
        return Err(AppError::provider_error(
            "The provider did not authorize the sign-in.",
        ));
    }
    if let Some(iss) = q.iss.as_deref()
        && iss.trim_end_matches('/') != p.issuer().trim_end_matches('/')
    {
        return Err(AppError::provider_error(
            "The response came from another issuer.",
        ));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| AppError::provider_error("The provider sent no code."))?;
    p.finish(code, &st.pkce_verifier, &st.nonce)
        .await
        .map_err(|e| {
            tracing::warn!(
                provider,
                error = format!("{e:#}"),
                "code exchange or ID token failed"
            );
            AppError::provider_error("The provider's answer could not be verified.")
        })
}

/// The claim's email, when it is a valid address.
fn claim_email(c: &SocialClaims) -> Option<Email> {
    c.email
        .as_deref()
        .and_then(|e| Email::parse(e, "email").ok())
}
