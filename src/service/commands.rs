//! The commands the service takes: inputs already parsed into domain types.
//!
//! A door turns its own input (a JSON body, a GraphQL input object) into a command by
//! implementing [`Submission`]. The service, not the door, decides when that parse
//! runs: after the gate (rate limit, then bot check), so a flood of malformed requests
//! spends its quota like any other, and one 422 still lists every invalid field,
//! password policy included (docs/api.md §3).

use crate::domain::{Email, MAX_TOKEN_LEN, Name, Password};
use crate::error::{AppError, AppResult, FieldErrors, Kind};
use crate::password::Policy;

/// A door's input for one gated operation.
pub trait Submission<C> {
    /// The Turnstile token the body carries (the header's wins, see `RequestMeta`).
    fn turnstile_token(&self) -> Option<&str>;
    /// Parses the input into the command, every invalid field in one 422.
    fn into_command(self, policy: &Policy) -> AppResult<C>;
}

/// Sign-up: a new account's details.
pub struct NewAccount {
    pub email: Email,
    pub name: Name,
    pub password: Password,
    pub callback_url: Option<String>,
}

impl NewAccount {
    pub fn parse(
        email: &str,
        name: &str,
        password: &str,
        callback_url: Option<String>,
        policy: &Policy,
    ) -> AppResult<NewAccount> {
        let email = Email::parse(email, "email");
        let name = Name::parse(name);
        let password = Password::new(password);
        let pw_check = match &email {
            Ok(e) => policy.check(
                &password,
                e,
                name.as_ref().map(|n| n.as_str()).ok(),
                "password",
            ),
            Err(_) => Ok(()),
        };
        merge_validation([
            email.as_ref().err(),
            name.as_ref().err(),
            pw_check.as_ref().err(),
        ])?;
        Ok(NewAccount {
            email: email?,
            name: name?,
            password,
            callback_url,
        })
    }
}

/// Email and password sign-in.
pub struct Credentials {
    pub email: Email,
    pub password: Password,
    /// false: a browser-session cookie and a session of at most one day.
    pub remember_me: bool,
    /// A trusted device's token from the body (the cookie's is in `RequestMeta`).
    pub trusted_device: Option<String>,
}

/// An address a link goes to (forget-password, resend-verification), and where the
/// link leads (checked against the redirect allowlist by the service).
pub struct LinkRequest {
    pub email: Email,
    pub redirect: Option<String>,
}

/// A reset link followed with its new password.
pub struct PasswordReset {
    pub token: LinkToken,
    pub new_password: Password,
}

/// A password change by the signed-in user.
pub struct PasswordChange {
    pub current: Password,
    pub new: Password,
    pub revoke_other_sessions: bool,
}

/// The proofs a step-up route or `reauthenticate` may carry (docs/api.md §7).
#[derive(Default)]
pub struct Proof {
    pub password: Option<Password>,
    /// A TOTP code or a backup code.
    pub code: Option<String>,
    /// A passkey assertion (reauthenticate only).
    pub passkey: Option<PasskeyAssertion>,
}

impl Proof {
    pub fn new(password: Option<&str>, code: Option<&str>) -> Proof {
        Proof {
            password: password.map(Password::new),
            code: code.map(str::to_string),
            passkey: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.password.is_none() && self.code.is_none() && self.passkey.is_none()
    }
}

/// A passkey's answer to a sign-in ceremony (docs/api.md §10.2).
pub struct PasskeyAssertion {
    pub ceremony_id: String,
    pub credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
}

/// `sign-in/passkey`.
pub struct PasskeySignIn {
    pub assertion: PasskeyAssertion,
    pub remember_me: bool,
}

/// `passkey/verify-registration`.
pub struct PasskeyRegistration {
    pub ceremony_id: String,
    pub credential: Box<webauthn_rs::prelude::RegisterPublicKeyCredential>,
    pub name: String,
}

/// `passkey/update-passkey`.
pub struct PasskeyRename {
    pub id: String,
    pub name: String,
}

/// Longest passkey name, in characters (§10.1 rule 4).
const MAX_PASSKEY_NAME: usize = 64;

/// A passkey's name: trimmed, 1 to 64 characters, no control characters; a missing
/// one is `Passkey` (§10.1 rule 4). Line separators and text-direction controls are
/// refused too, as in a user's name (§2): a name is shown in lists and notices.
pub fn passkey_name(raw: Option<&str>) -> AppResult<String> {
    let Some(raw) = raw else {
        return Ok("Passkey".to_string());
    };
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_PASSKEY_NAME {
        return Err(AppError::invalid_field(
            "name",
            "A passkey name has 1 to 64 characters.",
        ));
    }
    if name.chars().any(crate::domain::forbidden_in_name) {
        return Err(AppError::invalid_field(
            "name",
            "A passkey name cannot contain control characters, line breaks or text-direction marks.",
        ));
    }
    Ok(name.to_string())
}

/// A WebAuthn credential in its JSON form (`credential.toJSON()`); 400 when it is not
/// one.
pub fn webauthn_credential<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> AppResult<T> {
    serde_json::from_value(value)
        .map_err(|_| AppError::bad_request("`credential` is not a WebAuthn credential."))
}

/// A first password for an account that has none, with the step-up proof.
pub struct NewPassword {
    pub new: Password,
    pub proof: Proof,
}

/// A change of the profile: `None` keeps a field; `image: Some(None)` clears it.
pub struct ProfileUpdate {
    pub name: Option<Name>,
    pub image: Option<Option<String>>,
}

/// A request to move the account to another address.
pub struct EmailChange {
    pub new_email: Email,
    pub callback_url: Option<String>,
    pub proof: Proof,
}

/// Removal of one way to sign in.
pub struct Unlink {
    /// `credential` or a provider name.
    pub provider: String,
    pub account_id: Option<String>,
}

/// A social flow's start.
pub struct SocialStart {
    pub provider: String,
    pub callback_url: Option<String>,
    pub error_callback_url: Option<String>,
    /// Where a sign-in that needs its second step lands (docs/api.md §8.7).
    pub two_factor_callback_url: Option<String>,
}

/// The first code of an authenticator being enrolled.
pub struct TotpConfirmation {
    pub code: String,
    pub revoke_other_sessions: bool,
}

/// The second step of a sign-in: the ticket (else the cookie's) and a code.
pub struct SecondStep {
    pub ticket: Option<String>,
    pub code: String,
    pub trust_device: bool,
}

/// Turning two-factor authentication off.
pub struct TwoFactorOff {
    pub proof: Proof,
    pub revoke_other_sessions: bool,
}

/// What the provider sent back to the callback; other parameters are ignored.
#[derive(Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the authorization failed (e.g. `access_denied`).
    pub error: Option<String>,
    /// The issuer (RFC 9207); checked when present.
    pub iss: Option<String>,
}

/// A one-time token from a mailed link: present and of a sane length, or
/// `INVALID_TOKEN` (a malformed token is indistinguishable from an unknown one).
pub struct LinkToken(String);

impl LinkToken {
    pub fn parse(raw: &str) -> AppResult<LinkToken> {
        if raw.is_empty() || raw.len() > MAX_TOKEN_LEN {
            return Err(AppError::invalid_token());
        }
        Ok(LinkToken(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl crate::secret::Presence for LinkToken {
    fn is_present(&self) -> bool {
        true
    }
}

/// Combines several 422 errors into one body; any other error wins as is.
pub(crate) fn merge_validation<'a>(
    errors: impl IntoIterator<Item = Option<&'a AppError>>,
) -> AppResult<()> {
    let mut fields = FieldErrors::new();
    for e in errors.into_iter().flatten() {
        match e.fields() {
            Some(f) if e.kind() == Kind::Validation => {
                for (k, v) in f {
                    fields
                        .entry(k.clone())
                        .or_default()
                        .extend(v.iter().cloned());
                }
            }
            _ => return Err(AppError::bad_request(e.message())),
        }
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(AppError::validation(fields))
    }
}

crate::debug_redacted!(NewAccount { email, name, callback_url } hiding { password });
crate::debug_redacted!(Credentials { email, remember_me } hiding { password, trusted_device });
crate::debug_redacted!(TotpConfirmation { revoke_other_sessions } hiding { code });
crate::debug_redacted!(SecondStep { trust_device } hiding { ticket, code });
crate::debug_redacted!(TwoFactorOff { revoke_other_sessions } hiding { proof });
crate::debug_redacted!(PasswordReset {  } hiding { token, new_password });
crate::debug_redacted!(PasswordChange { revoke_other_sessions } hiding { current, new });
crate::debug_redacted!(NewPassword {  } hiding { new, proof });
crate::debug_redacted!(Proof {  } hiding { password, code, passkey });

impl crate::secret::Presence for PasskeyAssertion {
    fn is_present(&self) -> bool {
        true
    }
}
crate::debug_redacted!(EmailChange { new_email, callback_url } hiding { proof });

impl crate::secret::Presence for Proof {
    fn is_present(&self) -> bool {
        !self.is_empty()
    }
}
crate::debug_redacted!(Callback { error, iss } hiding { code, state });

#[cfg(test)]
mod passkey_name_tests {
    use super::passkey_name;

    #[test]
    fn a_passkey_name_is_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name(None).unwrap(), "Passkey");
        assert_eq!(passkey_name(Some("  Laptop ")).unwrap(), "Laptop");
        assert_eq!(
            passkey_name(Some(&"é".repeat(64))).unwrap().chars().count(),
            64
        );
        for bad in [
            "",
            "  ",
            &"x".repeat(65),
            "a\tb",
            "a\u{2028}b",
            "a\u{202E}b",
            "a\u{2066}b",
        ] {
            let e = passkey_name(Some(bad)).unwrap_err();
            assert_eq!(e.kind(), crate::error::Kind::Validation, "{bad:?}");
        }
    }
}
