//! Request inputs. Each struct is both the REST JSON body (serde, OpenAPI) and the
//! GraphQL `input` object, so the two doors take exactly the same fields. Unknown JSON
//! fields are ignored (docs/api.md §2).

use async_graphql::InputObject;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SignUpEmailInput")]
pub struct SignUpEmail {
    pub email: String,
    pub password: String,
    pub name: String,
    /// Where the verification link leads after verifying (relative path or allowed origin).
    #[serde(rename = "callbackURL", default)]
    #[graphql(name = "callbackURL")]
    pub callback_url: Option<String>,
    /// Turnstile token (or header `X-Turnstile-Token`).
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SignInEmailInput")]
pub struct SignInEmail {
    pub email: String,
    pub password: String,
    /// false: a browser-session cookie and a session of at most one day.
    #[serde(default)]
    pub remember_me: Option<bool>,
    /// A trusted device's token (else the `trusted_device` cookie): skips the second step.
    #[serde(default)]
    pub trusted_device_token: Option<String>,
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ForgetPasswordInput")]
pub struct ForgetPassword {
    pub email: String,
    /// Base of the mailed link (`redirectTo?token=…`); default `<app URL>/reset-password`.
    #[serde(default)]
    pub redirect_to: Option<String>,
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ResetPasswordInput")]
pub struct ResetPassword {
    pub token: String,
    pub new_password: String,
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ChangePasswordInput")]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
    /// Default true; the current session is kept either way.
    #[serde(default)]
    pub revoke_other_sessions: Option<bool>,
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SetPasswordInput")]
pub struct SetPassword {
    pub new_password: String,
    /// Step-up proof: a password (an account without one steps up with a fresh
    /// session, e.g. right after signing in with its provider).
    #[serde(default)]
    pub password: Option<String>,
    /// Step-up proof: a TOTP or backup code.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "VerifyEmailInput")]
pub struct VerifyEmail {
    pub token: String,
}

#[derive(Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ResendVerificationInput")]
pub struct ResendVerification {
    pub email: String,
    #[serde(rename = "callbackURL", default)]
    #[graphql(name = "callbackURL")]
    pub callback_url: Option<String>,
    #[serde(default)]
    pub turnstile_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "UnlinkProviderInput")]
pub struct UnlinkProvider {
    /// `credential` or a provider name.
    pub provider: String,
    #[serde(default)]
    pub account_id: Option<String>,
}

/// Query of `GET /auth/verify-email`.
#[derive(Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyEmailQuery {
    pub token: Option<String>,
    #[serde(rename = "callbackURL")]
    #[param(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

/// Query of `GET /reset-password`.
#[derive(Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    pub token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SocialSignInInput")]
pub struct SocialSignIn {
    /// A configured provider name (`LATCH_OIDC_<NAME>_*`, lower case).
    pub provider: String,
    /// Where the browser lands after signing in (relative path or allowed origin).
    #[serde(rename = "callbackURL", default)]
    #[graphql(name = "callbackURL")]
    pub callback_url: Option<String>,
    /// Where the browser lands on failure, with `?error=REASON`.
    #[serde(rename = "errorCallbackURL", default)]
    #[graphql(name = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    /// Where the browser lands when the sign-in needs its second step (default:
    /// `callbackURL` with `twoFactor=required`); the ticket travels as a cookie.
    #[serde(rename = "twoFactorCallbackURL", default)]
    #[graphql(name = "twoFactorCallbackURL")]
    pub two_factor_callback_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, InputObject, ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "LinkSocialInput")]
pub struct LinkSocial {
    pub provider: String,
    #[serde(rename = "callbackURL", default)]
    #[graphql(name = "callbackURL")]
    pub callback_url: Option<String>,
    #[serde(rename = "errorCallbackURL", default)]
    #[graphql(name = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
}

/// Query of `GET /auth/sign-in/social/{provider}`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SocialQuery {
    #[serde(rename = "callbackURL")]
    #[param(rename = "callbackURL")]
    pub callback_url: Option<String>,
    #[serde(rename = "errorCallbackURL")]
    #[param(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    #[serde(rename = "twoFactorCallbackURL")]
    #[param(rename = "twoFactorCallbackURL")]
    pub two_factor_callback_url: Option<String>,
}

/// Query of `GET /auth/callback/{provider}`; other parameters are ignored.
#[derive(Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the authorization failed (e.g. `access_denied`).
    pub error: Option<String>,
    /// The issuer (RFC 9207); checked when present.
    pub iss: Option<String>,
}

crate::debug_redacted!(SignUpEmail { email, name, callback_url } hiding { password, turnstile_token });
crate::debug_redacted!(SignInEmail { email, remember_me } hiding { password, trusted_device_token, turnstile_token });
crate::debug_redacted!(ForgetPassword { email, redirect_to } hiding { turnstile_token });
crate::debug_redacted!(ResetPassword {  } hiding { token, new_password, turnstile_token });
crate::debug_redacted!(ChangePassword { revoke_other_sessions } hiding { current_password, new_password, turnstile_token });
crate::debug_redacted!(SetPassword {  } hiding { new_password, password, code, turnstile_token });
crate::debug_redacted!(VerifyEmail {  } hiding { token });
crate::debug_redacted!(ResendVerification { email, callback_url } hiding { turnstile_token });
crate::debug_redacted!(VerifyEmailQuery { callback_url } hiding { token });
crate::debug_redacted!(TokenQuery {  } hiding { token });
crate::debug_redacted!(CallbackQuery { error, iss } hiding { code, state });

mod account;
mod parse;
mod passkeys;
mod two_factor;
pub use account::*;
pub use passkeys::*;
pub use two_factor::*;
