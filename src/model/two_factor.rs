//! Answers of the two-factor routes and the sign-in step (docs/api.md §5, §8).

use async_graphql::SimpleObject;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Session, User};
use crate::domain::Timestamp;
use crate::service::{DeviceCookie, Enrollment, SignInOutcome, SignInStep, TwoFactorState};

/// `POST /auth/sign-in/email`, `POST /auth/two-factor/verify` and their mutations:
/// a session (`twoFactorRequired: false`), or the second step to take. Over REST the
/// fields that do not apply are absent; in GraphQL they are null.
#[derive(Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct SignInResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// The session token, for `Authorization: Bearer` clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// True: no session yet; take the second step with `twoFactor.ticket`.
    pub two_factor_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactorChallenge>,
    /// A new or rotated trusted-device token (also set as the `trusted_device` cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_device_token: Option<String>,
    /// After a backup code: how many unused ones remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes_remaining: Option<i64>,
}

/// The second step a sign-in waits for.
#[derive(Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorChallenge {
    /// Send it back to `two-factor/verify` (also set as the `two_factor_ticket` cookie).
    pub ticket: String,
    /// `totp`, and `backup-code` while unused codes remain.
    pub methods: Vec<String>,
    pub expires_at: Timestamp,
}

/// `GET /auth/two-factor/status`, query `twoFactorStatus`.
#[derive(Debug, Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// `totp` when enabled, `backup-code` while unused codes remain.
    pub methods: Vec<String>,
    pub backup_codes_remaining: i64,
    /// Whether an enrollment waits for its first code.
    pub pending_enrollment: bool,
}

/// `POST /auth/two-factor/totp/enroll`, mutation `enrollTotp`: shown once.
#[derive(Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrollment {
    /// Base32 without padding, for typing into an authenticator app.
    pub secret: String,
    #[serde(rename = "totpURI")]
    #[graphql(name = "totpURI")]
    pub totp_uri: String,
    /// `totpURI` as an SVG QR code: `data:image/svg+xml;base64,…`.
    pub qr_code: String,
    /// The enrollment waits this long for its first code.
    pub expires_at: Timestamp,
}

/// `POST /auth/two-factor/totp/confirm`, mutation `confirmTotp`.
#[derive(Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct TotpConfirmed {
    pub enabled: bool,
    /// The first confirmation's backup codes, shown this once; null when an
    /// authenticator was replaced (the codes are kept).
    pub backup_codes: Option<Vec<String>>,
}

/// `POST /auth/two-factor/generate-backup-codes`, mutation `generateBackupCodes`.
#[derive(Clone, Serialize, SimpleObject, ToSchema)]
#[graphql(serial)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodes {
    /// Ten new codes (`xxxxx-xxxxx`); every earlier one stopped working.
    pub backup_codes: Vec<String>,
}

impl From<&SignInOutcome> for SignInResult {
    fn from(o: &SignInOutcome) -> Self {
        let trusted_device_token = match &o.device {
            DeviceCookie::Set { token, .. } => Some(token.clone()),
            _ => None,
        };
        match &o.step {
            SignInStep::Done(s) => SignInResult {
                user: Some(User::from(&s.user)),
                session: Some(Session::from(&s.session)),
                token: Some(s.token.clone()),
                two_factor_required: false,
                two_factor: None,
                trusted_device_token,
                backup_codes_remaining: o.backup_codes_remaining,
            },
            SignInStep::SecondFactor(c) => SignInResult {
                user: None,
                session: None,
                token: None,
                two_factor_required: true,
                two_factor: Some(TwoFactorChallenge {
                    ticket: c.ticket.clone(),
                    methods: c.methods.clone(),
                    expires_at: c.expires_at,
                }),
                trusted_device_token,
                backup_codes_remaining: None,
            },
        }
    }
}

impl From<Option<Vec<String>>> for TotpConfirmed {
    fn from(backup_codes: Option<Vec<String>>) -> Self {
        TotpConfirmed {
            enabled: true,
            backup_codes,
        }
    }
}

impl From<TwoFactorState> for TwoFactorStatus {
    fn from(t: TwoFactorState) -> Self {
        TwoFactorStatus {
            enabled: t.enabled,
            methods: t.methods,
            backup_codes_remaining: t.backup_codes_remaining,
            pending_enrollment: t.pending_enrollment,
        }
    }
}

impl From<Enrollment> for TotpEnrollment {
    fn from(e: Enrollment) -> Self {
        TotpEnrollment {
            secret: e.secret,
            totp_uri: e.uri,
            qr_code: e.qr_code,
            expires_at: e.expires_at,
        }
    }
}

crate::debug_redacted!(SignInResult { user, session, two_factor_required, backup_codes_remaining } hiding { token, two_factor, trusted_device_token });
crate::debug_redacted!(TwoFactorChallenge { methods, expires_at } hiding { ticket });
crate::debug_redacted!(TotpEnrollment { expires_at } hiding { secret, totp_uri, qr_code });
crate::debug_redacted!(TotpConfirmed { enabled } hiding { backup_codes });
crate::debug_redacted!(BackupCodes {  } hiding { backup_codes });
