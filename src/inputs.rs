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
crate::debug_redacted!(SignInEmail { email, remember_me } hiding { password, turnstile_token });
crate::debug_redacted!(ForgetPassword { email, redirect_to } hiding { turnstile_token });
crate::debug_redacted!(ResetPassword {  } hiding { token, new_password, turnstile_token });
crate::debug_redacted!(ChangePassword { revoke_other_sessions } hiding { current_password, new_password, turnstile_token });
crate::debug_redacted!(SetPassword {  } hiding { new_password, turnstile_token });
crate::debug_redacted!(VerifyEmail {  } hiding { token });
crate::debug_redacted!(ResendVerification { email, callback_url } hiding { turnstile_token });
crate::debug_redacted!(VerifyEmailQuery { callback_url } hiding { token });
crate::debug_redacted!(TokenQuery {  } hiding { token });
crate::debug_redacted!(CallbackQuery { error, iss } hiding { code, state });

// Each input parsed into its service command (the service runs the parse after its
// gate, see `service::commands`).

use crate::domain::{Email, Password};
use crate::error::AppResult;
use crate::password::Policy;
use crate::service::commands::{
    Callback, Credentials, LinkRequest, LinkToken, NewAccount, NewPassword, PasswordChange,
    PasswordReset, SocialStart, Submission, Unlink,
};

/// Implements `Submission` for an input with a `turnstile_token` field.
macro_rules! submission {
    ($input:ty => $command:ty, |$i:ident, $policy:ident| $parse:expr) => {
        impl Submission<$command> for $input {
            fn turnstile_token(&self) -> Option<&str> {
                self.turnstile_token.as_deref()
            }
            fn into_command(self, $policy: &Policy) -> AppResult<$command> {
                let $i = self;
                $parse
            }
        }
    };
}

submission!(SignUpEmail => NewAccount, |i, policy| NewAccount::parse(
    &i.email,
    &i.name,
    &i.password,
    i.callback_url,
    policy
));

submission!(SignInEmail => Credentials, |i, _policy| Ok(Credentials {
    email: Email::parse(&i.email, "email")?,
    password: Password::new(&i.password),
    remember_me: i.remember_me.unwrap_or(true),
}));

submission!(ForgetPassword => LinkRequest, |i, _policy| Ok(LinkRequest {
    email: Email::parse(&i.email, "email")?,
    redirect: i.redirect_to,
}));

submission!(ResendVerification => LinkRequest, |i, _policy| Ok(LinkRequest {
    email: Email::parse(&i.email, "email")?,
    redirect: i.callback_url,
}));

submission!(ResetPassword => PasswordReset, |i, _policy| Ok(PasswordReset {
    token: LinkToken::parse(&i.token)?,
    new_password: Password::new(&i.new_password),
}));

submission!(ChangePassword => PasswordChange, |i, _policy| Ok(PasswordChange {
    current: Password::new(&i.current_password),
    new: Password::new(&i.new_password),
    revoke_other_sessions: i.revoke_other_sessions.unwrap_or(true),
}));

submission!(SetPassword => NewPassword, |i, _policy| Ok(NewPassword {
    new: Password::new(&i.new_password),
}));

impl From<UnlinkProvider> for Unlink {
    fn from(i: UnlinkProvider) -> Self {
        Unlink {
            provider: i.provider,
            account_id: i.account_id,
        }
    }
}

impl From<CallbackQuery> for Callback {
    fn from(q: CallbackQuery) -> Self {
        Callback {
            code: q.code,
            state: q.state,
            error: q.error,
            iss: q.iss,
        }
    }
}

impl From<SocialSignIn> for SocialStart {
    fn from(i: SocialSignIn) -> Self {
        SocialStart {
            provider: i.provider,
            callback_url: i.callback_url,
            error_callback_url: i.error_callback_url,
        }
    }
}

impl From<LinkSocial> for SocialStart {
    fn from(i: LinkSocial) -> Self {
        SocialStart {
            provider: i.provider,
            callback_url: i.callback_url,
            error_callback_url: i.error_callback_url,
        }
    }
}

impl SocialQuery {
    /// The start of a flow at `GET /auth/sign-in/social/{provider}`.
    pub fn for_provider(self, provider: String) -> SocialStart {
        SocialStart {
            provider,
            callback_url: self.callback_url,
            error_callback_url: self.error_callback_url,
        }
    }
}
