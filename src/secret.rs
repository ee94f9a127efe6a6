//! Secrets whose `Debug` cannot print them (OWASP ASVS 5.0 V16.2.5: no secret in a log).
//!
//! [`Secret`] wraps a configured credential (a database or SMTP URL, a client secret)
//! so the value is reached only through [`Secret::expose`]. Request and row types that
//! carry passwords, tokens or hashes keep plain fields (serde, GraphQL and OpenAPI read
//! them) and get their `Debug` from [`debug_redacted!`](crate::debug_redacted) instead.

use std::fmt;
use std::str::FromStr;

/// A value that `Debug` prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The secret itself: for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret<String> {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Implements `Debug` for a struct: the first list of fields printed, the second as
/// `[redacted]` (an `Option` shows only whether it is set).
#[macro_export]
macro_rules! debug_redacted {
    ($ty:ident $(<$lt:lifetime>)? { $($field:ident),* $(,)? } hiding { $($secret:ident),* $(,)? }) => {
        impl $(<$lt>)? ::std::fmt::Debug for $ty $(<$lt>)? {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &$crate::secret::Redacted(&self.$secret)))*
                    .finish()
            }
        }
    };
}

/// How [`debug_redacted!`] prints a hidden field.
pub struct Redacted<'a, T: ?Sized>(pub &'a T);

/// Whether a hidden value is present, never the value.
pub trait Presence {
    fn is_present(&self) -> bool;
}

impl Presence for String {
    fn is_present(&self) -> bool {
        !self.is_empty()
    }
}

impl<T> Presence for Vec<T> {
    fn is_present(&self) -> bool {
        !self.is_empty()
    }
}

impl<T> Presence for Option<T> {
    fn is_present(&self) -> bool {
        self.is_some()
    }
}

impl<T: Presence + ?Sized> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_present() {
            "[redacted]"
        } else {
            "[none]"
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::domain::Timestamp;
    use crate::inputs::*;
    use crate::store::{OauthStateRow, SessionRow, SignupRequest, TokenRow, UserRow};

    const S: &str = "SECRET-VALUE-7f3a";

    fn assert_hidden(what: &str, debug: String) {
        assert!(!debug.contains(S), "{what} prints a secret: {debug}");
    }

    #[test]
    fn no_debug_output_carries_a_secret() {
        let s = || S.to_string();
        let some = || Some(S.to_string());
        assert_hidden(
            "SignUpEmail",
            format!(
                "{:?}",
                SignUpEmail {
                    email: "a@b.c".into(),
                    password: s(),
                    name: "A".into(),
                    callback_url: None,
                    turnstile_token: some()
                }
            ),
        );
        assert_hidden(
            "SignInEmail",
            format!(
                "{:?}",
                SignInEmail {
                    email: "a@b.c".into(),
                    password: s(),
                    remember_me: None,
                    trusted_device_token: some(),
                    turnstile_token: some()
                }
            ),
        );
        assert_hidden(
            "ResetPassword",
            format!(
                "{:?}",
                ResetPassword {
                    token: s(),
                    new_password: s(),
                    turnstile_token: some()
                }
            ),
        );
        assert_hidden(
            "ChangePassword",
            format!(
                "{:?}",
                ChangePassword {
                    current_password: s(),
                    new_password: s(),
                    revoke_other_sessions: None,
                    turnstile_token: some()
                }
            ),
        );
        assert_hidden(
            "SetPassword",
            format!(
                "{:?}",
                SetPassword {
                    new_password: s(),
                    password: some(),
                    code: some(),
                    turnstile_token: some()
                }
            ),
        );
        assert_hidden("VerifyEmail", format!("{:?}", VerifyEmail { token: s() }));
        assert_hidden(
            "Reauthenticate",
            format!(
                "{:?}",
                Reauthenticate {
                    password: some(),
                    code: some(),
                    ceremony_id: None,
                    credential: Some(async_graphql::Json(serde_json::json!({"id": S})))
                }
            ),
        );
        assert_hidden(
            "DeleteUser",
            format!(
                "{:?}",
                DeleteUser {
                    password: some(),
                    code: some()
                }
            ),
        );
        assert_hidden(
            "ChangeEmail",
            format!(
                "{:?}",
                ChangeEmail {
                    new_email: "a@b.c".into(),
                    callback_url: None,
                    password: some(),
                    code: some()
                }
            ),
        );
        assert_hidden(
            "ConfirmEmailChange",
            format!("{:?}", ConfirmEmailChange { token: s() }),
        );
        assert_hidden(
            "VerifyEmailQuery",
            format!(
                "{:?}",
                VerifyEmailQuery {
                    token: some(),
                    callback_url: None
                }
            ),
        );
        assert_hidden("TokenQuery", format!("{:?}", TokenQuery { token: some() }));
        assert_hidden(
            "CallbackQuery",
            format!(
                "{:?}",
                CallbackQuery {
                    code: some(),
                    state: some(),
                    error: None,
                    iss: None
                }
            ),
        );
        assert_hidden(
            "ForgetPassword",
            format!(
                "{:?}",
                ForgetPassword {
                    email: "a@b.c".into(),
                    redirect_to: None,
                    turnstile_token: some()
                }
            ),
        );
        assert_hidden(
            "ResendVerification",
            format!(
                "{:?}",
                ResendVerification {
                    email: "a@b.c".into(),
                    callback_url: None,
                    turnstile_token: some()
                }
            ),
        );

        let cli = crate::config::Cli::try_parse_from([
            "latch",
            "--database-url",
            &format!("postgres://latch:{S}@db/latch"),
            "--smtp-url",
            &format!("smtp://u:{S}@mail:587"),
            "--turnstile-secret",
            S,
        ])
        .unwrap();
        assert_hidden("Settings", format!("{:?}", cli.settings));
        let mut settings = cli.settings.clone();
        settings.oidc_vars = crate::config::OidcVars(vec![
            (
                "LATCH_OIDC_X_ISSUER".into(),
                "https://idp.example.com".into(),
            ),
            ("LATCH_OIDC_X_CLIENT_ID".into(), "latch".into()),
            ("LATCH_OIDC_X_CLIENT_SECRET".into(), S.into()),
        ]);
        assert_hidden("Settings with OIDC variables", format!("{settings:?}"));
        let cfg = settings.resolve("127.0.0.1:1".parse().unwrap()).unwrap();
        assert_hidden("Config", format!("{cfg:?}"));

        assert_hidden(
            "TokenRow",
            format!(
                "{:?}",
                TokenRow {
                    id: "t".into(),
                    user_id: crate::domain::UserId::new("u".into()),
                    password_hash: some(),
                    name: None,
                    callback_url: None,
                    signup_request: None,
                    new_email: None
                }
            ),
        );
        assert_hidden(
            "SignupRequest",
            format!(
                "{:?}",
                SignupRequest {
                    request: "r".into(),
                    password_hash: some(),
                    name: None,
                    callback_url: None
                }
            ),
        );
        assert_hidden(
            "OauthStateRow",
            format!(
                "{:?}",
                OauthStateRow {
                    pkce_verifier: s(),
                    nonce: s(),
                    callback_url: None,
                    error_callback_url: None,
                    two_factor_callback_url: None,
                    link_user_id: None
                }
            ),
        );
        let user = UserRow {
            id: crate::domain::UserId::new("u".into()),
            email: "a@b.c".into(),
            name: "A".into(),
            email_verified: true,
            image: None,
            has_password: true,
            personal_workspace_id: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        };
        let session = SessionRow {
            id: crate::domain::SessionId::new("s".into()),
            user_id: crate::domain::UserId::new("u".into()),
            expires_at: Timestamp(0),
            max_expires_at: Timestamp(0),
            refreshed_at: Timestamp(0),
            persistent: true,
            ip_address: None,
            user_agent: None,
            created_at: Timestamp(0),
            authenticated_at: Timestamp(0),
            last_active_at: Timestamp(0),
            last_ip_address: None,
            auth_methods: vec![],
        };
        let signed = crate::service::SignedIn {
            user,
            session,
            token: s(),
        };
        assert_hidden("SignedIn", format!("{signed:?}"));
        {
            use crate::service::{Challenge, DeviceCookie, SignInOutcome, SignInStep};
            let done = SignInOutcome {
                step: SignInStep::Done(Box::new(signed)),
                device: DeviceCookie::Set {
                    token: s(),
                    expires_at: Timestamp(0),
                },
                backup_codes_remaining: Some(3),
            };
            let asked = SignInOutcome {
                step: SignInStep::SecondFactor(Challenge {
                    ticket: s(),
                    methods: vec!["totp".into()],
                    expires_at: Timestamp(0),
                }),
                device: DeviceCookie::Keep,
                backup_codes_remaining: None,
            };
            for o in [done, asked] {
                assert_hidden(
                    "SignInResult",
                    format!("{:?}", crate::model::SignInResult::from(&o)),
                );
            }
        }
        {
            use crate::domain::{Email, Name, Password};
            use crate::service::commands::*;
            let pw = || Password::new(S);
            let email = || Email::parse("a@b.c", "email").unwrap();
            let commands = [
                format!(
                    "{:?}",
                    NewAccount {
                        email: email(),
                        name: Name::parse("A").unwrap(),
                        password: pw(),
                        callback_url: None
                    }
                ),
                format!(
                    "{:?}",
                    Credentials {
                        email: email(),
                        password: pw(),
                        remember_me: true,
                        trusted_device: some()
                    }
                ),
                format!(
                    "{:?}",
                    PasswordReset {
                        token: LinkToken::parse(S).unwrap(),
                        new_password: pw()
                    }
                ),
                format!(
                    "{:?}",
                    PasswordChange {
                        current: pw(),
                        new: pw(),
                        revoke_other_sessions: true
                    }
                ),
                format!(
                    "{:?}",
                    NewPassword {
                        new: pw(),
                        proof: Proof::new(Some(S), Some(S))
                    }
                ),
                format!(
                    "{:?}",
                    Callback {
                        code: some(),
                        state: some(),
                        error: None,
                        iss: None
                    }
                ),
            ];
            for c in commands {
                assert_hidden("a command", c);
            }
        }
        let meta = crate::service::RequestMeta {
            ip: None,
            user_agent: None,
            turnstile_token: some(),
            two_factor_ticket: some(),
            trusted_device: some(),
        };
        assert_hidden("RequestMeta", format!("{meta:?}"));
        let presented = crate::web::PresentedToken {
            token: some(),
            from_cookie: true,
        };
        assert_hidden("PresentedToken", format!("{presented:?}"));
    }
}
