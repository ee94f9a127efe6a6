//! Each input parsed into its service command (the service runs the parse after its
//! gate, see `service::commands`).

use super::*;

use crate::domain::{Email, Password};
use crate::error::AppResult;
use crate::password::Policy;
use crate::service::commands::{
    Callback, Credentials, LinkRequest, LinkToken, NewAccount, NewPassword, PasswordChange,
    PasswordReset, Proof, SocialStart, Submission, Unlink,
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
    trusted_device: i.trusted_device_token,
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
    proof: Proof::new(i.password.as_deref(), i.code.as_deref()),
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
            two_factor_callback_url: i.two_factor_callback_url,
        }
    }
}

impl From<LinkSocial> for SocialStart {
    fn from(i: LinkSocial) -> Self {
        SocialStart {
            provider: i.provider,
            callback_url: i.callback_url,
            error_callback_url: i.error_callback_url,
            two_factor_callback_url: None,
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
            two_factor_callback_url: self.two_factor_callback_url,
        }
    }
}
