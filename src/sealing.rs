//! The key that seals second-factor secrets at rest (docs/api.md §1, §8).
//!
//! AES-256-GCM with a random 96-bit nonce per sealing and the owner's user id as
//! associated data, so a sealed secret copied onto another user's row does not open.
//! The key comes from `LATCH_SECRET_KEY` (base64 of 32 bytes) or else from the file
//! `LATCH_SECRET_KEY_FILE` names, created with a new random key (mode 0600) when absent.
//! The first start stores a key check in the database; an instance whose key fails it
//! refuses to start (every sealed secret would be unreadable), naming both variables.
//! Losing the key loses every enrolled authenticator: the README's backup advice says so.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use anyhow::{Context, bail};
use base64::Engine;

use crate::domain::UserId;
use crate::secret::Secret;

const NONCE_LEN: usize = 12;
/// What the key check seals: a fixed text under a purpose of its own.
const CHECK_PLAINTEXT: &[u8] = b"latch key check v1";
const CHECK_AAD: &[u8] = b"latch key check";

/// The sealing key; `Debug` prints `SealingKey([redacted])` (see `Secret`).
#[derive(Clone, Debug)]
pub struct SealingKey(Secret<[u8; 32]>);

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl SealingKey {
    /// The key of `LATCH_SECRET_KEY` when set, else the key file's (created when absent).
    pub fn load(env_key: Option<&Secret<String>>, file: &Path) -> anyhow::Result<SealingKey> {
        if let Some(raw) = env_key {
            return SealingKey::from_base64(raw.expose())
                .context("LATCH_SECRET_KEY must be the base64 of 32 random bytes");
        }
        match std::fs::read_to_string(file) {
            Ok(text) => SealingKey::from_base64(text.trim()).with_context(|| {
                format!(
                    "{} (LATCH_SECRET_KEY_FILE) must hold the base64 of 32 random bytes",
                    file.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SealingKey::generate();
                if key.write_new(file)? {
                    tracing::info!(file = %file.display(), "created a new secret key file; back it up");
                    Ok(key)
                } else {
                    // Another process created it first: its key is the key.
                    SealingKey::load(None, file)
                }
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        }
    }

    fn generate() -> SealingKey {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        SealingKey(Secret::new(bytes))
    }

    fn from_base64(text: &str) -> anyhow::Result<SealingKey> {
        // The decoder's error would quote a byte of the key: say only what is wrong.
        let bytes = b64()
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("not base64"))?;
        let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
            bail!("{} bytes, not 32", bytes.len());
        };
        Ok(SealingKey(Secret::new(bytes)))
    }

    /// Writes the key to a new file readable by its owner only, whole and on disk
    /// before it is visible under its name (written beside it, synced, then linked, which
    /// fails when the name exists): a crash or a concurrent start never leaves a partial
    /// or second key. False when another process's file got the name first.
    fn write_new(&self, file: &Path) -> anyhow::Result<bool> {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut suffix = [0u8; 8];
        rand::fill(&mut suffix);
        let temp = dir.join(format!(".latch.key.{}", hex::encode(suffix)));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(&temp)
            .and_then(|mut f| {
                writeln!(f, "{}", b64().encode(self.0.expose()))?;
                f.sync_all()
            })
            .and_then(|()| std::fs::hard_link(&temp, file));
        let _ = std::fs::remove_file(&temp);
        match written {
            Ok(()) => {
                // The new name on disk too.
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("creating {}", file.display())),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.expose().into())
    }

    fn seal_with(&self, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(b64().encode(out))
    }

    fn open_with(&self, sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
        let bytes = b64().decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher()
            .decrypt(&nonce.into(), Payload { msg: body, aad })
            .ok()
    }

    /// Seals a secret of `owner`.
    pub fn seal(&self, owner: &UserId, plaintext: &[u8]) -> anyhow::Result<String> {
        self.seal_with(plaintext, owner.as_str().as_bytes())
    }

    /// Opens a secret sealed for `owner`; `None` under another key or owner, or when
    /// the value was altered.
    pub fn open(&self, owner: &UserId, sealed: &str) -> Option<Vec<u8>> {
        self.open_with(sealed, owner.as_str().as_bytes())
    }

    /// One byte of HMAC-SHA-256 under this key over `owner` and `data`: a lookup tag
    /// that says nothing about `data` to whoever lacks the key (backup codes use it to
    /// find their one candidate hash, docs/api.md §8.2).
    pub fn tag(&self, owner: &UserId, data: &[u8]) -> u8 {
        use hmac::{KeyInit as _, Mac};
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.0.expose()) else {
            return 0;
        };
        mac.update(b"latch backup-code tag\0");
        mac.update(owner.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(data);
        mac.finalize().into_bytes()[0]
    }

    /// A new key check for the database.
    pub fn check_value(&self) -> anyhow::Result<String> {
        self.seal_with(CHECK_PLAINTEXT, CHECK_AAD)
    }

    /// Whether `stored` is a key check made with this key.
    pub fn passes(&self, stored: &str) -> bool {
        self.open_with(stored, CHECK_AAD)
            .is_some_and(|p| p == CHECK_PLAINTEXT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> UserId {
        UserId::new(s.into())
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner_and_key() {
        let key = SealingKey::generate();
        let sealed = key.seal(&uid("a"), b"JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(
            key.open(&uid("a"), &sealed).as_deref(),
            Some(&b"JBSWY3DPEHPK3PXP"[..])
        );
        assert_eq!(key.open(&uid("b"), &sealed), None, "another user's row");
        assert_eq!(
            SealingKey::generate().open(&uid("a"), &sealed),
            None,
            "another key"
        );
        assert_ne!(
            sealed,
            key.seal(&uid("a"), b"JBSWY3DPEHPK3PXP").unwrap(),
            "a nonce each time"
        );
        let mut tampered = b64().decode(&sealed).unwrap();
        tampered[NONCE_LEN] ^= 1;
        assert_eq!(key.open(&uid("a"), &b64().encode(tampered)), None);
        assert_eq!(key.open(&uid("a"), "not base64!"), None);
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn the_key_check_tells_keys_apart() {
        let key = SealingKey::generate();
        let check = key.check_value().unwrap();
        assert!(key.passes(&check));
        assert!(!SealingKey::generate().passes(&check));
        assert!(!key.passes("garbage"));
    }

    #[test]
    fn the_key_file_is_created_once_owner_only_and_the_variable_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join("latch.key");
        let first = SealingKey::load(None, &file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = SealingKey::load(None, &file).unwrap();
        assert!(
            again.passes(&first.check_value().unwrap()),
            "the same key is read back"
        );

        let other = b64().encode([7u8; 32]);
        let from_env = SealingKey::load(Some(&Secret::new(other)), &file).unwrap();
        assert!(!from_env.passes(&first.check_value().unwrap()));
        let short = Secret::new(b64().encode([7u8; 16]));
        let err = SealingKey::load(Some(&short), &file).unwrap_err();
        assert!(format!("{err:#}").contains("LATCH_SECRET_KEY"), "{err:#}");
        std::fs::write(&file, "nonsense").unwrap();
        let err = SealingKey::load(None, &file).unwrap_err();
        assert!(
            format!("{err:#}").contains("LATCH_SECRET_KEY_FILE"),
            "{err:#}"
        );
    }
}
