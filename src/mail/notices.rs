//! Security notices (docs/api.md §12): what happened, when, from where, and what to
//! do if it was not you. A notice never carries a code, secret, token or a link that
//! acts on the account: only a plain link to the app. A new kind is one variant and
//! one row in [`Notice::words`].

use std::borrow::Cow;

use super::{Email, html_escape};
use crate::domain::Timestamp;

/// The kinds of notice, named as in the `X-Latch-Notice` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged,
    PasswordReset,
    EmailChanged,
    EmailInUse,
    AccountDeleted,
    TwoFactorReset,
    TwoFactorEnabled,
    TotpReplaced,
    TwoFactorDisabled,
    BackupCodesRegenerated,
    /// A backup code was used; how many unused ones remain.
    BackupCodeUsed {
        remaining: i64,
    },
    TwoFactorLocked,
    PasskeyAdded,
    PasskeyRemoved,
}

/// What to advise when the reader did not do it.
#[derive(Clone, Copy)]
enum Advice {
    ResetPassword,
    ContactOperator,
    NothingChanged,
}

impl Notice {
    pub fn kind(self) -> &'static str {
        match self {
            Notice::PasswordChanged => "password-changed",
            Notice::PasswordReset => "password-reset",
            Notice::EmailChanged => "email-changed",
            Notice::EmailInUse => "email-in-use",
            Notice::AccountDeleted => "account-deleted",
            Notice::TwoFactorReset => "two-factor-reset",
            Notice::TwoFactorEnabled => "two-factor-enabled",
            Notice::TotpReplaced => "totp-replaced",
            Notice::TwoFactorDisabled => "two-factor-disabled",
            Notice::BackupCodesRegenerated => "backup-codes-regenerated",
            Notice::BackupCodeUsed { .. } => "backup-code-used",
            Notice::TwoFactorLocked => "two-factor-locked",
            Notice::PasskeyAdded => "passkey-added",
            Notice::PasskeyRemoved => "passkey-removed",
        }
    }

    /// (subject, what happened, advice).
    fn words(self) -> (&'static str, Cow<'static, str>, Advice) {
        let (subject, what, advice) = match self {
            Notice::PasswordChanged => (
                "Your password was changed",
                "The password of your account was changed.",
                Advice::ResetPassword,
            ),
            Notice::PasswordReset => (
                "Your password was reset",
                "The password of your account was reset with a reset link.",
                Advice::ResetPassword,
            ),
            Notice::EmailChanged => (
                "Your account's email address was changed",
                "The email address of your account was changed; this address no longer signs in.",
                Advice::ContactOperator,
            ),
            Notice::EmailInUse => (
                "Someone tried to use your email address",
                "Someone asked to move another account to this email address. It already belongs to your account, so nothing was changed.",
                Advice::NothingChanged,
            ),
            Notice::AccountDeleted => (
                "Your account was deleted",
                "Your account and everything in it were deleted.",
                Advice::ContactOperator,
            ),
            Notice::TwoFactorReset => (
                "Two-factor authentication was reset on your account",
                "An operator removed the second factor of your account, after checking who you are, and signed it out everywhere.",
                Advice::ResetPassword,
            ),
            Notice::TwoFactorEnabled => (
                "Two-factor authentication is on",
                "Two-factor authentication was turned on for your account: signing in now also asks for a code from your authenticator app.",
                Advice::ResetPassword,
            ),
            Notice::TotpReplaced => (
                "Your authenticator app was replaced",
                "A new authenticator app was set up for your account; codes from the previous one no longer work.",
                Advice::ResetPassword,
            ),
            Notice::TwoFactorDisabled => (
                "Two-factor authentication is off",
                "Two-factor authentication was turned off for your account: signing in no longer asks for a code.",
                Advice::ResetPassword,
            ),
            Notice::BackupCodesRegenerated => (
                "New backup codes were made",
                "New backup codes were made for your account; the earlier ones no longer work.",
                Advice::ResetPassword,
            ),
            Notice::BackupCodeUsed { remaining } => {
                return (
                    "A backup code was used",
                    Cow::Owned(format!(
                        "A backup code was used to sign in or confirm a change on your account. {remaining} unused backup code(s) remain."
                    )),
                    Advice::ResetPassword,
                );
            }
            Notice::TwoFactorLocked => (
                "Two-factor sign-in is locked",
                "Too many wrong two-factor codes were entered for your account, so codes are refused for a while.",
                Advice::ResetPassword,
            ),
            Notice::PasskeyAdded => (
                "A passkey was added to your account",
                "A passkey was added to your account: it can now sign in without your password. If you did not add it, remove it under Passkeys in your account settings.",
                Advice::ResetPassword,
            ),
            Notice::PasskeyRemoved => (
                "A passkey was removed from your account",
                "A passkey was removed from your account: it no longer signs in.",
                Advice::ResetPassword,
            ),
        };
        (subject, Cow::Borrowed(what), advice)
    }
}

/// Where and when the request that caused a notice came from.
pub struct NoticeContext<'a> {
    pub at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<&'a str>,
    /// The app's base URL: the notice's only link, which does nothing by itself.
    pub app_url: &'a str,
}

/// The notice email of `notice` for the account holder `name`.
pub fn notice_email(notice: Notice, name: &str, ctx: &NoticeContext<'_>) -> Email {
    let (subject, what, advice) = notice.words();
    let advice = match advice {
        Advice::ResetPassword => {
            "If this was not you, reset your password now with \"Forgot password\" on the sign-in page, and review where your account is signed in."
        }
        Advice::ContactOperator => {
            "If this was not you, contact the people who run this service right away."
        }
        Advice::NothingChanged => {
            "Nothing changed on your account; if you did not expect this, you can ignore it."
        }
    };
    let when = ctx.at.to_rfc3339();
    let ip = ctx.ip.as_deref().unwrap_or("unknown");
    let agent = ctx.user_agent.unwrap_or("unknown");
    let app = ctx.app_url;
    Email {
        subject: subject.into(),
        text: format!(
            "Hi {name},\n\n{what}\n\nWhen: {when} (UTC)\nIP address: {ip}\nDevice: {agent}\n\n{advice}\n\n{app}\n"
        ),
        html: format!(
            "<p>Hi {n},</p><p>{w}</p><ul><li>When: {t} (UTC)</li><li>IP address: {i}</li>\
             <li>Device: {d}</li></ul><p>{a}</p><p>{u}</p>",
            n = html_escape(name),
            w = html_escape(&what),
            t = html_escape(&when),
            i = html_escape(ip),
            d = html_escape(agent),
            a = html_escape(advice),
            u = html_escape(app),
        ),
        notice: Some(notice.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_its_kind_the_request_and_only_the_app_link() {
        let ctx = NoticeContext {
            at: Timestamp(0),
            ip: Some("203.0.113.9".into()),
            user_agent: Some("Firefox <script>"),
            app_url: "https://app.example.com/",
        };
        let e = notice_email(Notice::PasswordChanged, "Ada", &ctx);
        assert_eq!(e.notice, Some("password-changed"));
        assert!(e.text.contains("1970-01-01T00:00:00"));
        assert!(e.text.contains("203.0.113.9"));
        assert!(e.text.contains("reset your password"));
        assert!(e.html.contains("Firefox &lt;script&gt;"));
        assert_eq!(e.text.matches("://").count(), 1, "one link: the app");
        let e = notice_email(Notice::BackupCodeUsed { remaining: 7 }, "Ada", &ctx);
        assert_eq!(e.notice, Some("backup-code-used"));
        assert!(
            e.text.contains("7 unused backup code(s) remain"),
            "{}",
            e.text
        );
    }
}
