//! The second factor's codes (docs/api.md §2, §8): TOTP (RFC 6238) and backup codes.
//! Pure functions; storage, counting and locks are the service's.

mod backup;
mod totp;

pub use backup::{BackupCode, new_backup_codes};
pub use totp::{TotpSecret, qr_data_uri, totp_uri_is_valid_issuer};

/// A submitted code, sorted by its shape (§8.3 rule 4): 6 ASCII digits are a TOTP
/// code (spaces ignored); 10 characters of the backup alphabet after normalization are
/// a backup code; anything else is a wrong code.
pub enum Code {
    Totp(String),
    Backup(BackupCode),
    Malformed,
}

impl Code {
    pub fn parse(raw: &str) -> Code {
        if raw.len() > 64 {
            return Code::Malformed;
        }
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Code::Totp(digits);
        }
        match BackupCode::parse(raw) {
            Some(code) => Code::Backup(code),
            None => Code::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_by_shape() {
        assert!(matches!(Code::parse("123456"), Code::Totp(c) if c == "123456"));
        assert!(matches!(Code::parse("123 456"), Code::Totp(c) if c == "123456"));
        assert!(matches!(Code::parse(" 12 34 56 "), Code::Totp(_)));
        assert!(matches!(Code::parse("12345"), Code::Malformed));
        assert!(matches!(Code::parse("1234567"), Code::Malformed));
        assert!(matches!(Code::parse("12345a"), Code::Malformed));
        assert!(
            matches!(Code::parse("１２３４５６"), Code::Malformed),
            "fullwidth digits"
        );
        assert!(matches!(Code::parse("abcde-fghjk"), Code::Backup(_)));
        assert!(matches!(Code::parse(""), Code::Malformed));
        assert!(matches!(Code::parse(&"1".repeat(100)), Code::Malformed));
    }
}
