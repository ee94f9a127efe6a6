//! Inputs of the passkey routes (docs/api.md §10) and their parse into commands.

use async_graphql::{InputObject, Json};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::password::Policy;
use crate::service::commands::{
    PasskeyAssertion, PasskeyRegistration, PasskeyRename, PasskeySignIn, Proof, Submission,
    passkey_name, webauthn_credential,
};

/// `POST /auth/passkey/generate-register-options`: the step-up proofs.
#[derive(Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "GeneratePasskeyRegistrationOptionsInput")]
pub struct GeneratePasskeyRegistrationOptions {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

/// `POST /auth/passkey/verify-registration`.
#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "VerifyPasskeyRegistrationInput")]
pub struct VerifyPasskeyRegistration {
    /// From generate-register-options, in this session.
    pub ceremony_id: String,
    /// The browser's `credential.toJSON()`.
    #[schema(value_type = Object)]
    pub credential: Json<serde_json::Value>,
    /// 1 to 64 characters; default `Passkey`.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /auth/sign-in/passkey`.
#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SignInPasskeyInput")]
pub struct SignInPasskey {
    /// From generate-authenticate-options.
    pub ceremony_id: String,
    /// The browser's `credential.toJSON()` (an assertion).
    #[schema(value_type = Object)]
    pub credential: Json<serde_json::Value>,
    /// false: a browser-session cookie and a session of at most one day.
    #[serde(default)]
    pub remember_me: Option<bool>,
}

/// `POST /auth/passkey/update-passkey`.
#[derive(Debug, Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "UpdatePasskeyInput")]
pub struct UpdatePasskey {
    pub id: String,
    pub name: String,
}

/// `POST /auth/passkey/delete-passkey`.
#[derive(Debug, Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "DeletePasskeyInput")]
pub struct DeletePasskey {
    pub id: String,
}

super::account::proof_submission!(GeneratePasskeyRegistrationOptions);

/// A ceremony id and an assertion, both or neither (reauthenticate's passkey proof).
pub(super) fn assertion(
    ceremony_id: Option<String>,
    credential: Option<Json<serde_json::Value>>,
) -> AppResult<Option<PasskeyAssertion>> {
    match (ceremony_id, credential) {
        (None, None) => Ok(None),
        (Some(ceremony_id), Some(Json(credential))) => Ok(Some(PasskeyAssertion {
            ceremony_id,
            credential: Box::new(webauthn_credential(credential)?),
        })),
        _ => Err(AppError::bad_request(
            "A passkey proof needs both `ceremonyId` and `credential`.",
        )),
    }
}

impl Submission<PasskeyRegistration> for VerifyPasskeyRegistration {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<PasskeyRegistration> {
        let credential = webauthn_credential(self.credential.0)?;
        Ok(PasskeyRegistration {
            ceremony_id: self.ceremony_id,
            credential: Box::new(credential),
            name: passkey_name(self.name.as_deref())?,
        })
    }
}

impl Submission<PasskeySignIn> for SignInPasskey {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<PasskeySignIn> {
        let assertion = assertion(Some(self.ceremony_id), Some(self.credential))?;
        Ok(PasskeySignIn {
            assertion: assertion.ok_or_else(|| AppError::bad_request("No assertion."))?,
            remember_me: self.remember_me.unwrap_or(true),
        })
    }
}

impl Submission<PasskeyRename> for UpdatePasskey {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<PasskeyRename> {
        Ok(PasskeyRename {
            id: self.id,
            name: passkey_name(Some(&self.name))?,
        })
    }
}

crate::debug_redacted!(GeneratePasskeyRegistrationOptions {  } hiding { password, code });
