//! Identifiers and token hashes as types of their own, so a session id cannot be
//! passed where a user id is expected, nor a raw token where its hash is.

use std::fmt;

use sha2::{Digest, Sha256};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier read from the database or made by the store.
            pub fn new(raw: String) -> Self {
                $name(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A user's id (a UUID).
    UserId
);
id_type!(
    /// A session's id (a UUID), never its token.
    SessionId
);

/// SHA-256 of a token, hex: the only form in which tokens are stored. Made only
/// from a token, so a raw token can never be stored or looked up by mistake.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> TokenHash {
        let digest = Sha256::digest(token.as_bytes());
        let mut hex = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the digest's length.
        let _ = hex::encode_to_slice(digest, &mut hex);
        TokenHash(String::from_utf8_lossy(&hex).into_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Looks a stored hash up by its text (a notification names one) without making a
/// `TokenHash` from it. The derived `Hash` and `Eq` are the inner string's.
impl std::borrow::Borrow<str> for TokenHash {
    fn borrow(&self) -> &str {
        &self.0
    }
}
