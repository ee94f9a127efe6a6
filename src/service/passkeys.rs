//! Passkeys (docs/api.md §10): registration behind a step-up, discoverable sign-in,
//! the passkey proof of `reauthenticate`, and the list, rename and delete.
//!
//! Ceremonies are kept in the database (single use, 300 s), so any instance finishes
//! a ceremony another started.

use rand::RngExt;

use super::*;
use crate::store::{MethodToRemove, NewCeremony, NewPasskey, PasskeyInsert, PasskeyRow, Removal};
use crate::webauthn::{CEREMONY_SECS, Failure, Party};
use commands::{PasskeyAssertion, PasskeyRegistration, PasskeyRename, PasskeySignIn, Proof};

const REGISTER: &str = "register";
/// Most bytes one stored credential may take.
const MAX_STORED_CREDENTIAL: usize = 16 * 1024;
const AUTHENTICATE: &str = "authenticate";

/// A started ceremony as the browser gets it.
pub struct Ceremony {
    pub id: String,
    /// The WebAuthn Level 3 JSON options.
    pub options: serde_json::Value,
    pub expires_at: Timestamp,
}

impl AppState {
    /// 404 while passkeys are off: every passkey route answers it before anything
    /// else (its session, its body).
    pub fn passkeys_on(&self) -> AppResult<()> {
        self.party().map(drop)
    }

    /// The relying party; every passkey route is 404 while passkeys are off.
    fn party(&self) -> AppResult<&Party> {
        self.inner
            .party
            .as_ref()
            .ok_or_else(|| AppError::not_found("Passkeys are not enabled."))
    }

    /// `passkey/list-user-passkeys`: oldest first.
    pub async fn passkeys(&self, p: &Principal) -> AppResult<Vec<PasskeyRow>> {
        self.party()?;
        Ok(self.inner.store.passkeys_of(&p.user.id).await?)
    }

    /// `passkey/generate-register-options` (↑): the limit first (a proof is spent only
    /// on a request that can succeed, §7 rule 2), then the step-up.
    #[tracing::instrument(skip_all)]
    pub async fn passkey_registration_options(
        &self,
        p: &Principal,
        input: impl Submission<Proof>,
        meta: &RequestMeta,
    ) -> AppResult<Ceremony> {
        let party = self.party()?;
        let proof = self
            .admit(Flow::PasskeyRegisterOptions, meta, input)
            .await?;
        let store = &self.inner.store;
        let held = store.passkeys_of(&p.user.id).await?;
        if held.len() >= self.inner.cfg.passkeys.max as usize {
            return Err(AppError::passkey_limit_reached());
        }
        self.step_up(p, &proof, meta).await?;
        let fresh: [u8; 16] = rand::rng().random();
        let handle = store
            .webauthn_handle(&p.user.id, &hex::encode(fresh))
            .await?;
        let handle: [u8; 16] = hex::decode(&handle)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("a stored WebAuthn handle is not 16 bytes"))
            })?;
        let exclude = held
            .iter()
            .map(|row| crate::webauthn::credential_id_bytes(&row.credential_id))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let started = party.start_registration(handle, &p.user.email, &p.user.name, exclude)?;
        self.keep_ceremony(REGISTER, Some(p), started).await
    }

    /// `passkey/verify-registration`: the ceremony of this session, a credential that
    /// verifies, not registered to anyone, within the limit.
    #[tracing::instrument(skip_all)]
    pub async fn verify_passkey_registration(
        &self,
        p: &Principal,
        input: impl Submission<PasskeyRegistration>,
        meta: &RequestMeta,
    ) -> AppResult<PasskeyRow> {
        let party = self.party()?;
        let r = self
            .admit(Flow::PasskeyVerifyRegistration, meta, input)
            .await?;
        let store = &self.inner.store;
        let state = self
            .take_ceremony(&r.ceremony_id, REGISTER, Some(&p.session.id))
            .await?;
        if crate::webauthn::reported_not_discoverable(&r.credential) {
            return Err(AppError::passkey_verification_failed());
        }
        let passkey = match party.finish_registration(&r.credential, &state) {
            Ok(passkey) => passkey,
            Err(Failure::State) => return Err(AppError::invalid_ceremony()),
            Err(Failure::Verification(e)) => {
                tracing::info!(error = %e, "a passkey registration failed verification");
                return Err(AppError::passkey_verification_failed());
            }
        };
        let stored = crate::webauthn::stored(&passkey)?;
        // An authenticator may send an attestation it was not asked for, which the
        // credential keeps: a bound on what one passkey stores.
        if stored.json.len() > MAX_STORED_CREDENTIAL {
            return Err(AppError::passkey_verification_failed());
        }
        let insert = NewPasskey {
            user_id: &p.user.id,
            credential_id: &stored.credential_id,
            name: &r.name,
            credential: &stored.json,
            sign_count: stored.sign_count,
            backed_up: stored.backed_up,
        };
        match store
            .insert_passkey(insert, self.inner.cfg.passkeys.max)
            .await?
        {
            PasskeyInsert::Stored(row) => {
                self.send_notice(&p.user, Notice::PasskeyAdded, meta);
                Ok(row)
            }
            PasskeyInsert::Duplicate => Err(AppError::passkey_already_registered()),
            PasskeyInsert::LimitReached => Err(AppError::passkey_limit_reached()),
        }
    }

    /// `passkey/generate-authenticate-options`: bound to no session; the bot check of
    /// `passkey-sign-in` applies here (the token in the header, or `body_token`).
    #[tracing::instrument(skip_all)]
    pub async fn passkey_authentication_options(
        &self,
        meta: &RequestMeta,
        body_token: Option<&str>,
    ) -> AppResult<Ceremony> {
        let party = self.party()?;
        self.gate(Flow::PasskeySignIn, meta, body_token).await?;
        let started = party.start_authentication()?;
        self.keep_ceremony(AUTHENTICATE, None, started).await
    }

    /// `sign-in/passkey`: a fresh session, without a second step (§8.7 rule 3) and
    /// whatever either lock says (§10.2 rule 4).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_passkey(
        &self,
        input: impl Submission<PasskeySignIn>,
        meta: &RequestMeta,
    ) -> AppResult<SignInOutcome> {
        self.party()?;
        let s = self.admit(Flow::PasskeyAssertion, meta, input).await?;
        let user = self.check_assertion(&s.assertion, None).await?;
        let start = second_step::SessionStart::of(meta, s.remember_me, vec!["passkey".into()]);
        let signed_in = self.open_session(user, start).await?;
        Ok(SignInOutcome::done(signed_in, DeviceCookie::Keep))
    }

    /// The passkey proof of `reauthenticate`: an assertion by one of the session
    /// user's passkeys.
    pub(super) async fn prove_passkey(
        &self,
        p: &Principal,
        assertion: &PasskeyAssertion,
    ) -> AppResult<()> {
        if self.inner.party.is_none() {
            return Err(AppError::invalid_ceremony());
        }
        self.check_assertion(assertion, Some(p)).await.map(drop)
    }

    /// Consumes the sign-in ceremony, finds the passkey by the assertion's user handle
    /// and credential id, verifies it and records its use. The count is written only
    /// if no other assertion moved it meanwhile, so of two assertions carrying one
    /// count at most one passes. Every failure past the ceremony is 401
    /// `INVALID_CREDENTIALS`, whichever check refused.
    async fn check_assertion(
        &self,
        a: &PasskeyAssertion,
        only: Option<&Principal>,
    ) -> AppResult<UserRow> {
        let session = only.map(|p| &p.session.id);
        let party = self.party()?;
        let store = &self.inner.store;
        let state = self
            .take_ceremony(&a.ceremony_id, AUTHENTICATE, session)
            .await?;
        let refused = AppError::passkey_refused;
        let (handle, credential_id) = party.identify(&a.credential).ok_or_else(refused)?;
        let owner = store
            .handle_owner(&hex::encode(handle))
            .await?
            .ok_or_else(refused)?;
        if only.is_some_and(|p| p.user.id != owner) {
            return Err(refused());
        }
        let (row, credential) = store
            .passkey_by_credential(&owner, &crate::webauthn::credential_id_text(credential_id))
            .await?
            .ok_or_else(refused)?;
        let mut passkey = crate::webauthn::load(&credential)?;
        let result = match party.finish_authentication(&a.credential, &state, &passkey) {
            Ok(result) => result,
            Err(Failure::State) => return Err(AppError::invalid_ceremony()),
            Err(Failure::Verification(e)) => {
                tracing::info!(error = %e, "a passkey assertion failed verification");
                return Err(refused());
            }
        };
        passkey.update_credential(&result);
        let stored = crate::webauthn::stored(&passkey)?;
        let recorded = store
            .record_passkey_use(&row.id, &stored.json, stored.sign_count, stored.backed_up)
            .await?;
        if !recorded {
            return Err(refused());
        }
        store.user_by_id(&owner).await?.ok_or_else(refused)
    }

    /// `passkey/update-passkey`: renames one of the caller's passkeys.
    #[tracing::instrument(skip_all)]
    pub async fn rename_passkey(
        &self,
        p: &Principal,
        input: impl Submission<PasskeyRename>,
    ) -> AppResult<PasskeyRow> {
        self.party()?;
        let r = input.into_command(&self.inner.policy)?;
        self.inner
            .store
            .rename_passkey(&p.user.id, &r.id, &r.name)
            .await?
            .ok_or_else(passkey_not_found)
    }

    /// `passkey/delete-passkey`: never the last way to sign in (§10.3); sessions stay.
    #[tracing::instrument(skip_all)]
    pub async fn delete_passkey(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        self.party()?;
        match self
            .inner
            .store
            .remove_sign_in_method(&p.user.id, MethodToRemove::Passkey(id))
            .await?
        {
            Removal::Removed => {
                self.send_notice(&p.user, Notice::PasskeyRemoved, meta);
                Ok(())
            }
            Removal::NotFound => Err(passkey_not_found()),
            Removal::LastMethod => Err(AppError::last_login_method()),
        }
    }

    /// Consumes the ceremony (§10): one of `kind`, unexpired, else INVALID_CEREMONY.
    async fn take_ceremony(
        &self,
        id: &str,
        kind: &str,
        session: Option<&SessionId>,
    ) -> AppResult<String> {
        let id = ceremony_id(id).ok_or_else(AppError::invalid_ceremony)?;
        let taken = self
            .inner
            .store
            .take_ceremony(&id.to_string(), session)
            .await?
            .ok_or_else(AppError::invalid_ceremony)?;
        if taken.kind != kind || taken.expires_at <= Timestamp::now() {
            return Err(AppError::invalid_ceremony());
        }
        Ok(taken.state)
    }

    async fn keep_ceremony(
        &self,
        kind: &str,
        bound_to: Option<&Principal>,
        started: crate::webauthn::Started,
    ) -> AppResult<Ceremony> {
        let expires_at = Timestamp::now().plus_secs(CEREMONY_SECS);
        let id = self
            .inner
            .store
            .insert_ceremony(NewCeremony {
                kind,
                session_id: bound_to.map(|p| &p.session.id),
                user_id: bound_to.map(|p| &p.user.id),
                state: &started.state,
                expires_at,
            })
            .await?;
        Ok(Ceremony {
            id,
            options: started.options,
            expires_at,
        })
    }
}

/// Ceremony ids are UUIDs; anything else names no ceremony.
fn ceremony_id(raw: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).ok()
}

fn passkey_not_found() -> AppError {
    AppError::not_found("No such passkey.")
}
