//! Parsed input types and small value types, with no I/O.
//!
//! Parse, don't validate: each adapter turns raw request fields into these types once,
//! and the service layer only accepts the parsed forms.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde::{Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

use crate::error::AppError;

mod ids;
mod picture;
pub use ids::{SessionId, TokenHash, UserId};
pub use picture::{MAX_PICTURE_LEN, picture_url};

/// A trimmed, lower-cased, syntactically valid email address (docs/api.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses per the WHATWG "valid email address" grammar, at most 254 characters.
    /// `field` names the request field for the 422 body.
    pub fn parse(raw: &str, field: &str) -> Result<Email, AppError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(AppError::invalid_field(field, "Enter your email address."));
        }
        if email.chars().count() > 254 {
            return Err(AppError::invalid_field(
                field,
                "An email address has at most 254 characters.",
            ));
        }
        if !is_valid_email(&email) {
            return Err(AppError::invalid_field(
                field,
                "Enter a valid email address, like name@example.com.",
            ));
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    local_ok && domain_ok
}

/// A display name: 1 to 200 characters after trimming, without control characters,
/// line or paragraph separators or bidirectional controls (docs/api.md §2), which could
/// forge lines in an email or reorder text a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

/// Longest name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Characters a name (a user's, a passkey's) may not hold.
pub fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl Name {
    pub fn parse(raw: &str) -> Result<Name, AppError> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 {
            return Err(AppError::invalid_field("name", "Enter your name."));
        }
        if len > MAX_NAME_CHARS {
            return Err(AppError::invalid_field(
                "name",
                "A name has at most 200 characters.",
            ));
        }
        if name.chars().any(forbidden_in_name) {
            return Err(AppError::invalid_field(
                "name",
                "A name cannot contain control characters, line breaks or text-direction marks.",
            ));
        }
        Ok(Name(name.to_string()))
    }

    /// A provider's `name` claim made to pass the rules (docs/api.md §6 "Social sign-in
    /// (claims)"): forbidden characters removed, trimmed, cut to 200 characters; when
    /// nothing is left, `fallback` (the email's local part) made to pass the same way.
    pub fn from_claim(claim: Option<&str>, fallback: &str) -> Name {
        let clean = |raw: &str| -> String {
            let kept: String = raw.chars().filter(|c| !forbidden_in_name(*c)).collect();
            kept.trim()
                .chars()
                .take(MAX_NAME_CHARS)
                .collect::<String>()
                .trim()
                .to_string()
        };
        let name = claim.map(clean).filter(|n| !n.is_empty());
        Name(name.unwrap_or_else(|| {
            let f = clean(fallback);
            if f.is_empty() { "user".to_string() } else { f }
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed, NFKC-normalized (NIST SP 800-63B §5.1.1.2). Its `Debug` is
/// redacted so it can never reach a log line.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Normalizes; the policy is checked separately (`password::Policy`), because a
    /// current password is compared as is, with no policy.
    pub fn new(raw: &str) -> Password {
        Password(raw.nfkc().collect())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in Unicode code points.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

impl crate::secret::Presence for Password {
    fn is_present(&self) -> bool {
        !self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Longest token accepted anywhere (docs/api.md §2).
pub const MAX_TOKEN_LEN: usize = 512;

/// Whether a presented token (session, ticket, trusted device, state) is worth a
/// lookup: not empty and at most [`MAX_TOKEN_LEN`] characters.
pub fn usable_token(token: &&str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN
}

/// A secret token: 256 random bits from the OS CSPRNG, base64url without padding.
pub fn new_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token (see [`TokenHash`]).
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash::of(token)
}

/// An instant, stored as Unix epoch milliseconds and rendered as RFC 3339 in UTC
/// (`2026-11-25T19:42:10.123Z`) through both doors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_secs(self, secs: u64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)),
        )
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, computed directly (it is on every response).
    pub fn to_rfc3339(self) -> String {
        self.rfc3339_bytes().as_str().to_owned()
    }

    /// The RFC 3339 text in a stack buffer: four of these are on every session check.
    /// Years outside 0..=9999 (never stored by latch) are clamped to that range.
    fn rfc3339_bytes(self) -> Rfc3339 {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y.clamp(0, 9999) as u64);
        put(5, 2, u64::from(m));
        put(8, 2, u64::from(d));
        put(11, 2, (sod / 3600) as u64);
        put(14, 2, (sod % 3600 / 60) as u64);
        put(17, 2, (sod % 60) as u64);
        put(20, 3, ms as u64);
        Rfc3339(b)
    }
}

/// RFC 3339 text of a [`Timestamp`], ASCII by construction.
struct Rfc3339([u8; 24]);

impl Rfc3339 {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000Z")
    }
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339_bytes().as_str())
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

/// RFC 3339 date-time in UTC.
#[async_graphql::Scalar(name = "DateTime")]
impl async_graphql::ScalarType for Timestamp {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            async_graphql::Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|d| Timestamp(d.timestamp_millis()))
                .map_err(|_| async_graphql::InputValueError::expected_type(value)),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.to_rfc3339())
    }
}

/// Facts about the HTTP request that operations record or check.
#[derive(Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    /// The `X-Turnstile-Token` header.
    pub turnstile_token: Option<String>,
    /// The `two_factor_ticket` cookie: a sign-in waiting for its second step (§8.3).
    pub two_factor_ticket: Option<String>,
    /// The `trusted_device` cookie (§8.6).
    pub trusted_device: Option<String>,
}

crate::debug_redacted!(RequestMeta { ip, user_agent } hiding { turnstile_token, two_factor_ticket, trusted_device });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let e = Email::parse("  Ada.Lovelace@Example.COM ", "email").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
        assert_eq!(e.local_part(), "ada.lovelace");
    }

    #[test]
    fn invalid_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "a@",
            "@b.com",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            ".a@b.com",
            "a@b.com\0",
            "ä@b.com",
        ] {
            let err = Email::parse(bad, "email").unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::Validation, "{bad:?}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
        assert_eq!(long.len(), 255);
        assert!(Email::parse(&long, "email").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Ada ").unwrap().as_str(), "Ada");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"n".repeat(201)).is_err());
        assert!(Name::parse(&"ñ".repeat(200)).is_ok());
        for bad in [
            "Ada\u{2028}Evil",
            "Ada\u{2029}x",
            "\u{202E}adA",
            "Ada\u{2066}x",
            "a\nb",
            "a\u{7}",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn claimed_names_are_cleaned_not_refused() {
        assert_eq!(
            Name::from_claim(
                Some("  Ada\r\n\r\nClick http://evil.test \u{202E}x "),
                "ada"
            )
            .as_str(),
            "AdaClick http://evil.test x"
        );
        assert_eq!(
            Name::from_claim(Some("\u{2028}\n "), "ada.l").as_str(),
            "ada.l"
        );
        assert_eq!(Name::from_claim(None, "ada").as_str(), "ada");
        assert_eq!(
            Name::from_claim(Some(&"x".repeat(300)), "a").as_str().len(),
            200
        );
    }

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).as_str().len(), 64);
        assert_ne!(token_hash(&a).as_str(), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[test]
    fn passwords_are_nfkc_normalized_and_redacted() {
        let p = Password::new("ﬁancé");
        assert_eq!(p.expose(), "fiancé");
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn timestamps_match_chrono_everywhere() {
        let mut t: i64 = -62_135_596_800_000; // 0001-01-01
        while t < 253_402_300_799_000 {
            // 9999-12-31
            assert_eq!(
                Timestamp(t).to_rfc3339(),
                chrono::TimeZone::timestamp_millis_opt(&Utc, t)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "{t}"
            );
            t += 7_919_876_543; // ~92 days and odd hours, minutes, millis
        }
    }

    #[test]
    fn timestamps_render_rfc3339_utc() {
        assert_eq!(
            Timestamp(1_764_099_730_123).to_rfc3339(),
            "2025-11-25T19:42:10.123Z"
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any accepted email is stored trimmed and lower-cased, and parsing that
        /// stored form gives it back unchanged.
        #[test]
        fn emails_normalize_idempotently(local in "[A-Za-z0-9._%+-]{1,20}", domain in "[A-Za-z0-9-]{1,20}(\\.[A-Za-z]{2,6})?", pad in " {0,3}") {
            let raw = format!("{pad}{local}@{domain}{pad}");
            if let Ok(e) = Email::parse(&raw, "email") {
                prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
                prop_assert_eq!(e.as_str(), e.as_str().trim());
                let again = Email::parse(e.as_str(), "email").unwrap();
                prop_assert_eq!(again.as_str(), e.as_str());
            }
        }

        /// No string becomes an email longer than 254 characters or one with
        /// whitespace or control characters inside.
        #[test]
        fn accepted_emails_are_bounded_and_clean(raw in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&raw, "email") {
                prop_assert!(e.as_str().chars().count() <= 254);
                prop_assert!(!e.as_str().chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(e.as_str().contains('@'));
            }
        }

        /// An accepted name is 1 to 200 characters, trimmed, with no forbidden
        /// character; a provider's claim always yields such a name.
        #[test]
        fn names_keep_their_rules(raw in "\\PC{0,250}|[\\u{2028}\\u{202E}\\n a-z]{0,40}") {
            for name in Name::parse(&raw).into_iter().chain([Name::from_claim(Some(&raw), "fallback")]) {
                let n = name.as_str();
                prop_assert!((1..=200).contains(&n.chars().count()), "{:?}", n);
                prop_assert_eq!(n, n.trim());
                prop_assert!(!n.chars().any(forbidden_in_name), "{:?}", n);
            }
        }
    }
}
