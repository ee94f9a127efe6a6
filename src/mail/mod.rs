//! Outgoing mail through lettre: one `.eml` file per email in the outbox folder by
//! default, SMTP when `LATCH_SMTP_URL` is set.
//!
//! Every email has a plain-text part and an HTML part; the text part carries the full
//! link on a line of its own, unfolded, so a person reading the `.eml` file can copy it.

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

mod notices;
pub use notices::{Notice, NoticeContext, notice_email};

#[derive(Clone)]
enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends latch's emails.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// One email's content.
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A security notice's kind, sent as `X-Latch-Notice` (docs/api.md §12).
    pub notice: Option<&'static str>,
}

impl Mailer {
    pub fn from_config(cfg: &Config) -> anyhow::Result<Mailer> {
        let transport = match &cfg.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("LATCH_SMTP_URL")?
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&cfg.mail_outbox)
                    .with_context(|| format!("creating the outbox {}", cfg.mail_outbox))?;
                Transport::File(AsyncFileTransport::<Tokio1Executor>::new(&cfg.mail_outbox))
            }
        };
        Ok(Mailer {
            transport,
            from: cfg.mail_from.clone(),
        })
    }

    /// Sends one email to `to`.
    pub async fn send(&self, to: &str, email: Email) -> anyhow::Result<()> {
        let to: Mailbox = to.parse().context("recipient address")?;
        let part =
            |ct: ContentType, body: String| SinglePart::builder().header(ct).body(encode(body));
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject);
        if let Some(kind) = email.notice {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Latch-Notice"),
                kind.to_string(),
            ));
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, email.text))
                    .singlepart(part(ContentType::TEXT_HTML, email.html)),
            )
            .context("building the email")?;
        match &self.transport {
            Transport::File(t) => {
                t.send(message).await.context("writing the email file")?;
            }
            Transport::Smtp(t) => {
                t.send(message).await.context("sending over SMTP")?;
            }
        }
        Ok(())
    }
}

/// Encodes a body as 8bit when every line fits SMTP's 998-octet limit, so links stay
/// readable and copyable in the `.eml` file; otherwise lettre picks quoted-printable.
/// (lettre's own choice would fold any line over 76 characters.)
fn encode(text: String) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = crlf.split("\r\n").all(|l| l.len() <= 998) && !crlf.contains('\0');
    if fits {
        let encoding = if crlf.is_ascii() {
            ContentTransferEncoding::SevenBit
        } else {
            ContentTransferEncoding::EightBit
        };
        Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
    } else {
        Body::new(text)
    }
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The email with a verification link.
pub fn verification_email(name: &str, link: &str) -> Email {
    Email {
        subject: "Verify your email address".into(),
        text: format!(
            "Hi {name},\n\nConfirm your email address to finish setting up your account:\n\n{link}\n\n\
             The link works once and expires in 24 hours. If you did not sign up, ignore this email.\n"
        ),
        html: format!(
            "<p>Hi {n},</p><p>Confirm your email address to finish setting up your account:</p>\
             <p><a href=\"{l}\">Verify my email address</a></p><p>{l}</p>\
             <p>The link works once and expires in 24 hours. If you did not sign up, ignore this email.</p>",
            n = html_escape(name),
            l = html_escape(link)
        ),
        notice: None,
    }
}

/// The email with an email-change confirmation link, to the new address.
pub fn change_email_email(name: &str, new_email: &str, link: &str) -> Email {
    Email {
        subject: "Confirm your new email address".into(),
        text: format!(
            "Hi {name},\n\nConfirm that {new_email} should become the address of your account:\n\n{link}\n\n\
             The link works once and expires in 24 hours. If you did not ask for this, ignore this email.\n"
        ),
        html: format!(
            "<p>Hi {n},</p><p>Confirm that {e} should become the address of your account:</p>\
             <p><a href=\"{l}\">Confirm my new address</a></p><p>{l}</p>\
             <p>The link works once and expires in 24 hours. If you did not ask for this, ignore this email.</p>",
            n = html_escape(name),
            e = html_escape(new_email),
            l = html_escape(link)
        ),
        notice: None,
    }
}

/// The email with a password reset link.
pub fn reset_email(name: &str, link: &str) -> Email {
    Email {
        subject: "Reset your password".into(),
        text: format!(
            "Hi {name},\n\nSomeone asked to reset the password of your account. To choose a new one, open:\n\n{link}\n\n\
             The link works once and expires in 1 hour. If it was not you, ignore this email: your password stays as it is.\n"
        ),
        html: format!(
            "<p>Hi {n},</p><p>Someone asked to reset the password of your account. To choose a new one:</p>\
             <p><a href=\"{l}\">Reset my password</a></p><p>{l}</p>\
             <p>The link works once and expires in 1 hour. If it was not you, ignore this email: your password stays as it is.</p>",
            n = html_escape(name),
            l = html_escape(link)
        ),
        notice: None,
    }
}
