//! Backup codes (docs/api.md §2, §8.2): 50 bits each, written in Crockford's base32
//! alphabet as `xxxxx-xxxxx`, read back forgivingly.

use crate::secret::Secret;

/// How many codes a set has.
const BACKUP_CODES_PER_SET: usize = 10;
/// Crockford's base32, lower case: digits and letters without i, l, o, u.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CODE_LEN: usize = 10;

/// A backup code in its normalized form (10 characters of the alphabet); `Debug`
/// never prints it.
pub struct BackupCode(Secret<String>);

impl BackupCode {
    /// The code a person typed: `-` and whitespace removed, lower-cased, `i` and `l`
    /// read as `1`, `o` as `0`; `None` unless 10 characters of the alphabet remain.
    pub fn parse(raw: &str) -> Option<BackupCode> {
        let mut out = String::with_capacity(CODE_LEN);
        for c in raw.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_lowercase() {
                'i' | 'l' => '1',
                'o' => '0',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || out.len() == CODE_LEN {
                return None;
            }
            out.push(c);
        }
        (out.len() == CODE_LEN).then(|| BackupCode(Secret::new(out)))
    }

    /// The normalized form, which is what is hashed.
    pub fn normalized(&self) -> &str {
        self.0.expose()
    }

    /// `xxxxx-xxxxx`, as shown to the user.
    pub fn display(&self) -> String {
        let s = self.0.expose();
        format!("{}-{}", &s[..5], &s[5..])
    }
}

/// A new set of codes, 50 bits each from the OS CSPRNG.
pub fn new_backup_codes() -> Vec<BackupCode> {
    (0..BACKUP_CODES_PER_SET)
        .map(|_| {
            let bits: u64 = rand::random::<u64>() & ((1 << 50) - 1);
            let code: String = (0..CODE_LEN)
                .map(|i| ALPHABET[((bits >> (5 * i)) & 31) as usize] as char)
                .collect();
            BackupCode(Secret::new(code))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_codes_of_the_alphabet() {
        let set = new_backup_codes();
        assert_eq!(set.len(), 10);
        let mut seen = std::collections::HashSet::new();
        for c in &set {
            let shown = c.display();
            assert_eq!(shown.len(), 11);
            assert_eq!(&shown[5..6], "-");
            assert!(c.normalized().bytes().all(|b| ALPHABET.contains(&b)));
            assert!(seen.insert(c.normalized().to_string()));
            let again = BackupCode::parse(&shown).unwrap();
            assert_eq!(again.normalized(), c.normalized());
        }
    }

    #[test]
    fn typed_codes_are_read_forgivingly() {
        let read = |s: &str| BackupCode::parse(s).map(|c| c.normalized().to_string());
        assert_eq!(read("ABCDE-FGHJK").as_deref(), Some("abcdefghjk"));
        assert_eq!(read(" abcde fghjk ").as_deref(), Some("abcdefghjk"));
        assert_eq!(
            read("IlOo0-12345").as_deref(),
            Some("11000-12345".replace('-', "").as_str())
        );
        assert_eq!(read("abcde-fghju"), None, "u is not in the alphabet");
        assert_eq!(read("abcde-fghj"), None, "too short");
        assert_eq!(read("abcde-fghjkm"), None, "too long");
        assert_eq!(read("abcdé-fghjk"), None);
    }
}
