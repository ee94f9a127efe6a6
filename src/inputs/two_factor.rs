//! Inputs of the two-factor routes (docs/api.md §8) and their parse into commands.

use async_graphql::InputObject;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::password::Policy;
use crate::service::commands::{Proof, SecondStep, Submission, TotpConfirmation, TwoFactorOff};

/// `POST /auth/two-factor/totp/enroll`: the step-up proofs, when the session is not fresh.
#[derive(Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "EnrollTotpInput")]
pub struct EnrollTotp {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

/// `POST /auth/two-factor/totp/confirm`.
#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ConfirmTotpInput")]
pub struct ConfirmTotp {
    /// A code of the authenticator being enrolled.
    pub code: String,
    /// Default true: the user's other sessions end.
    #[serde(default)]
    pub revoke_other_sessions: Option<bool>,
}

/// `POST /auth/two-factor/verify`: the second step of a sign-in.
#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "VerifyTwoFactorInput")]
pub struct VerifyTwoFactor {
    /// The sign-in's ticket; default: the `two_factor_ticket` cookie.
    #[serde(default)]
    pub ticket: Option<String>,
    /// A TOTP code (6 digits) or a backup code.
    pub code: String,
    /// Trust this browser for the next sign-ins (`LATCH_TRUSTED_DEVICE_SECS`).
    #[serde(default)]
    pub trust_device: Option<bool>,
}

/// `POST /auth/two-factor/generate-backup-codes`: the step-up proofs.
#[derive(Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "GenerateBackupCodesInput")]
pub struct GenerateBackupCodes {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

/// `POST /auth/two-factor/disable`.
#[derive(Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "DisableTwoFactorInput")]
pub struct DisableTwoFactor {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    /// Default false: other sessions stay signed in.
    #[serde(default)]
    pub revoke_other_sessions: Option<bool>,
}

super::account::proof_submission!(EnrollTotp, GenerateBackupCodes);

impl Submission<TotpConfirmation> for ConfirmTotp {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<TotpConfirmation> {
        Ok(TotpConfirmation {
            code: self.code,
            revoke_other_sessions: self.revoke_other_sessions.unwrap_or(true),
        })
    }
}

impl Submission<SecondStep> for VerifyTwoFactor {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<SecondStep> {
        Ok(SecondStep {
            ticket: self.ticket,
            code: self.code,
            trust_device: self.trust_device.unwrap_or(false),
        })
    }
}

impl Submission<TwoFactorOff> for DisableTwoFactor {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<TwoFactorOff> {
        Ok(TwoFactorOff {
            proof: Proof::new(self.password.as_deref(), self.code.as_deref()),
            revoke_other_sessions: self.revoke_other_sessions.unwrap_or(false),
        })
    }
}

crate::debug_redacted!(EnrollTotp {  } hiding { password, code });
crate::debug_redacted!(GenerateBackupCodes {  } hiding { password, code });
crate::debug_redacted!(ConfirmTotp { revoke_other_sessions } hiding { code });
crate::debug_redacted!(VerifyTwoFactor { trust_device } hiding { ticket, code });
crate::debug_redacted!(DisableTwoFactor { revoke_other_sessions } hiding { password, code });
