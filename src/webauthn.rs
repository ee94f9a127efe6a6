//! The WebAuthn relying party (docs/api.md §10): webauthn-rs ceremonies, with the
//! options adjusted to what the contract sends and the states as JSON, so they can be
//! kept in the database and finished by any instance.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, PublicKeyCredentialDescriptor, ResidentKeyRequirement,
    UserVerificationPolicy,
};

use crate::config::RelyingParty;

/// A ceremony lives this long (`expiresAt`; `options.timeout` in ms).
pub const CEREMONY_SECS: u64 = 300;

/// The relying party built from the configuration.
pub struct Party {
    webauthn: Webauthn,
}

/// A started ceremony: what the browser gets and what latch keeps.
pub struct Started {
    pub options: Value,
    pub state: String,
}

/// Why a ceremony did not finish.
#[derive(Debug)]
pub enum Failure {
    /// The kept state could not be read back (a latch of another version wrote it).
    State,
    /// The credential did not verify.
    Verification(WebauthnError),
}

impl Party {
    pub fn new(rp: &RelyingParty) -> anyhow::Result<Party> {
        let first = rp.origins.first().context("no WebAuthn origin")?;
        let mut builder = WebauthnBuilder::new(&rp.id, first)
            .context("the WebAuthn relying party")?
            .rp_name(&rp.name)
            .timeout(std::time::Duration::from_secs(CEREMONY_SECS));
        for origin in &rp.origins[1..] {
            builder = builder.append_allowed_origin(origin);
        }
        Ok(Party {
            webauthn: builder.build().context("the WebAuthn relying party")?,
        })
    }

    /// Registration options for the user's handle, excluding the credentials they hold
    /// (`exclude`: credential ids). webauthn-rs asks for a non-discoverable credential;
    /// a passkey must be discoverable to sign in without a username, so the options
    /// require one (§10.1). The exclusion list goes only to the browser: given to the
    /// crate, a re-registered credential fails as an algorithm error, indistinguishable
    /// from a real one; latch's unique credential id answers it instead.
    pub fn start_registration(
        &self,
        handle: [u8; 16],
        email: &str,
        name: &str,
        exclude: Vec<Vec<u8>>,
    ) -> anyhow::Result<Started> {
        let (mut ccr, state) = self.webauthn.start_passkey_registration(
            Uuid::from_bytes(handle),
            email,
            name,
            None,
        )?;
        let options = &mut ccr.public_key;
        options.exclude_credentials = Some(
            exclude
                .into_iter()
                .map(|id| PublicKeyCredentialDescriptor {
                    type_: "public-key".into(),
                    id,
                    transports: None,
                })
                .collect(),
        );
        options.authenticator_selection = Some(AuthenticatorSelectionCriteria {
            authenticator_attachment: None,
            resident_key: Some(ResidentKeyRequirement::Required),
            require_resident_key: true,
            user_verification: UserVerificationPolicy::Required,
        });
        // The contract's extensions are credProps and credProtect only.
        if let Some(ext) = options.extensions.as_mut() {
            ext.uvm = None;
        }
        Ok(Started {
            options: serde_json::to_value(&ccr.public_key)?,
            state: serde_json::to_string(&state)?,
        })
    }

    pub fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &str,
    ) -> Result<Passkey, Failure> {
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(|_| Failure::State)?;
        self.webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(Failure::Verification)
    }

    /// Discoverable-credential options (no allow list, user verification required),
    /// for a sign-in button and conditional UI alike: the client picks the mediation.
    pub fn start_authentication(&self) -> anyhow::Result<Started> {
        let (mut rcr, state) = self.webauthn.start_discoverable_authentication()?;
        rcr.public_key.extensions = None;
        rcr.public_key.hints = None;
        Ok(Started {
            options: serde_json::to_value(&rcr.public_key)?,
            state: serde_json::to_string(&state)?,
        })
    }

    /// The user handle and credential id an assertion names; `None` when the handle is
    /// not 16 bytes (no latch handle is).
    pub fn identify<'a>(
        &self,
        credential: &'a PublicKeyCredential,
    ) -> Option<([u8; 16], &'a [u8])> {
        let (uuid, id) = self
            .webauthn
            .identify_discoverable_authentication(credential)
            .ok()?;
        Some((*uuid.as_bytes(), id))
    }

    /// Verifies an assertion against the stored passkey: signature, challenge, origin,
    /// RP ID hash, user verification, and a sign count that went up (when either count
    /// is non-zero).
    pub fn finish_authentication(
        &self,
        credential: &PublicKeyCredential,
        state: &str,
        passkey: &Passkey,
    ) -> Result<AuthenticationResult, Failure> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|_| Failure::State)?;
        self.webauthn
            .finish_discoverable_authentication_v2(credential, state, passkey)
            .map_err(Failure::Verification)
    }
}

/// The stored facts of a verified credential.
pub struct Stored {
    pub credential_id: String,
    pub json: String,
    pub sign_count: i64,
    pub backed_up: bool,
}

/// What latch keeps of a passkey.
pub fn stored(passkey: &Passkey) -> anyhow::Result<Stored> {
    let cred = Credential::from(passkey.clone());
    Ok(Stored {
        credential_id: credential_id_text(passkey.cred_id()),
        json: serde_json::to_string(passkey)?,
        sign_count: i64::from(cred.counter),
        backed_up: cred.backup_state,
    })
}

/// A credential id as stored: base64url without padding.
pub fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// A stored credential id back to bytes.
pub fn credential_id_bytes(text: &str) -> anyhow::Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .context("a stored credential id is not base64url")
}

/// Whether the browser reported the credential as not discoverable (`credProps.rk`
/// false): such a credential could never sign in without a username. The report is
/// the browser's, unsigned; absent, the authenticator was asked for a resident key.
pub fn reported_not_discoverable(credential: &RegisterPublicKeyCredential) -> bool {
    credential.extensions.cred_props.as_ref().and_then(|p| p.rk) == Some(false)
}

pub fn load(json: &str) -> anyhow::Result<Passkey> {
    serde_json::from_str(json).context("a stored passkey")
}
