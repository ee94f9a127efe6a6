//! Inputs of step-up, session management and account self-service (docs/api.md §7,
//! §9, §11), and their parse into service commands.

use async_graphql::{InputObject, MaybeUndefined};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{Email, MAX_PICTURE_LEN, Name, picture_url};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::password::Policy;
use crate::service::commands::{EmailChange, ProfileUpdate, Proof, Submission};

/// The step-up proofs (docs/api.md §7); every one sent must be right.
#[derive(Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ReauthenticateInput")]
pub struct Reauthenticate {
    /// The account's current password.
    #[serde(default)]
    pub password: Option<String>,
    /// A TOTP code or an unused backup code.
    #[serde(default)]
    pub code: Option<String>,
    /// A ceremony from generate-authenticate-options, with `credential`.
    #[serde(default)]
    pub ceremony_id: Option<String>,
    /// An assertion by one of the user's passkeys (`credential.toJSON()`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credential: Option<async_graphql::Json<serde_json::Value>>,
}

/// `POST /auth/delete-user`: the step-up proofs, when the session is not fresh.
#[derive(Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "DeleteUserInput")]
pub struct DeleteUser {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "RevokeSessionInput")]
pub struct RevokeSession {
    /// One of the caller's sessions (`list-sessions`); the caller's own acts as logout.
    pub session_id: String,
}

/// A field left out keeps its value; `image: null` clears the picture.
#[derive(Debug, Clone, Default, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "UpdateUserInput")]
pub struct UpdateUser {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: MaybeUndefined<String>,
    /// An absolute http(s) URL of at most 2048 characters, or null to clear it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub image: MaybeUndefined<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ChangeEmailInput")]
pub struct ChangeEmail {
    pub new_email: String,
    /// Where the confirmation link leads afterwards (relative path or allowed origin).
    #[serde(rename = "callbackURL", default)]
    #[graphql(name = "callbackURL")]
    pub callback_url: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ConfirmEmailChangeInput")]
pub struct ConfirmEmailChange {
    pub token: String,
}

impl UpdateUser {
    /// Every invalid field in one 422.
    pub fn into_command(self) -> AppResult<ProfileUpdate> {
        let mut fields = FieldErrors::new();
        let name = match self.name {
            MaybeUndefined::Value(n) => match Name::parse(&n) {
                Ok(n) => Some(n),
                Err(e) => {
                    fields.extend(e.fields().cloned().unwrap_or_default());
                    None
                }
            },
            MaybeUndefined::Null => {
                fields.insert("name".into(), vec!["A name is required.".into()]);
                None
            }
            MaybeUndefined::Undefined => None,
        };
        let image = match self.image.map_value(|raw| picture_url(&raw)) {
            MaybeUndefined::Value(Some(url)) => Some(Some(url)),
            MaybeUndefined::Value(None) => {
                fields.insert(
                    "image".into(),
                    vec![format!(
                        "Use an absolute http or https URL of at most {MAX_PICTURE_LEN} characters."
                    )],
                );
                None
            }
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Undefined => None,
        };
        if !fields.is_empty() {
            return Err(AppError::validation(fields));
        }
        Ok(ProfileUpdate { name, image })
    }
}

/// Implements `Submission<Proof>` for inputs that carry only the step-up proofs
/// (`password?`, `code?`) and no Turnstile token.
macro_rules! proof_submission {
    ($($input:ty),+ $(,)?) => {$(
        impl Submission<Proof> for $input {
            fn turnstile_token(&self) -> Option<&str> {
                None
            }
            fn into_command(self, _: &Policy) -> AppResult<Proof> {
                Ok(Proof::new(self.password.as_deref(), self.code.as_deref()))
            }
        }
    )+};
}
pub(crate) use proof_submission;

proof_submission!(DeleteUser);

impl Submission<Proof> for Reauthenticate {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<Proof> {
        let mut proof = Proof::new(self.password.as_deref(), self.code.as_deref());
        proof.passkey = super::passkeys::assertion(self.ceremony_id, self.credential)?;
        Ok(proof)
    }
}

impl Submission<EmailChange> for ChangeEmail {
    fn turnstile_token(&self) -> Option<&str> {
        None
    }
    fn into_command(self, _: &Policy) -> AppResult<EmailChange> {
        Ok(EmailChange {
            new_email: Email::parse(&self.new_email, "newEmail")?,
            callback_url: self.callback_url,
            proof: Proof::new(self.password.as_deref(), self.code.as_deref()),
        })
    }
}

crate::debug_redacted!(Reauthenticate { ceremony_id } hiding { password, code, credential });
crate::debug_redacted!(DeleteUser {  } hiding { password, code });
crate::debug_redacted!(ChangeEmail { new_email, callback_url } hiding { password, code });
crate::debug_redacted!(ConfirmEmailChange {  } hiding { token });
