//! Password hashing (argon2id) and the password policy (contract §6).

use std::sync::Arc;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::config::{Argon2Cost, Config};
use crate::domain::{Email, Password};
use crate::error::{AppError, AppResult};

/// Hashes and verifies passwords off the async runtime.
///
/// argon2id is deliberately expensive (~40 ms and 19 MiB at the default cost), so each
/// hash runs on tokio's blocking pool, and a semaphore sized to the core count bounds how
/// many run at once: a sign-in flood queues here instead of starving the runtime's
/// workers that answer session checks.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against for unknown emails so that
    /// "no such account" costs the same time as "wrong password" (OWASP ASVS V6.3).
    dummy_hash: Arc<str>,
}

impl Hasher {
    pub fn new(cost: Argon2Cost) -> anyhow::Result<Hasher> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2id cost: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let dummy = hash_blocking(&params, &crate::domain::new_token())?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: dummy.into(),
        })
    }

    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let params = self.params.clone();
        let pw = password.clone();
        self.run(move || hash_blocking(&params, pw.expose())).await
    }

    /// Whether `password` matches the PHC string `phc` (a malformed hash never matches).
    pub async fn verify(&self, password: &Password, phc: &str) -> AppResult<bool> {
        let pw = password.clone();
        let phc = phc.to_string();
        self.run(move || Ok(verify_blocking(pw.expose(), &phc)))
            .await
    }

    /// Spends the time of one verification and returns false.
    pub async fn verify_dummy(&self, password: &Password) -> AppResult<bool> {
        let dummy = self.dummy_hash.to_string();
        self.verify(password, &dummy).await.map(|_| false)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("hasher semaphore closed")?;
        let span = tracing::Span::current();
        let out = tokio::task::spawn_blocking(move || span.in_scope(f))
            .await
            .context("hashing task failed")??;
        Ok(out)
    }
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = argon
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hash failed: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    // The output comparison inside verify_password is constant-time (password-hash `Output`).
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Hard upper bound on password length, in code points.
pub const MAX_PASSWORD_LEN: usize = 128;

/// The NIST SP 800-63B policy: length, zxcvbn score with the user's own data as inputs,
/// no email local part, and an optional (off by default) character-class rule.
#[derive(Debug, Clone)]
pub struct Policy {
    pub min_length: usize,
    pub min_score: u8,
    pub min_classes: u8,
}

impl Policy {
    pub fn from_config(cfg: &Config) -> Policy {
        Policy {
            min_length: cfg.password_min_length as usize,
            min_score: cfg.password_min_score,
            min_classes: cfg.password_min_classes,
        }
    }

    /// Every unmet rule, as messages under `field`; `Ok` when all hold.
    pub fn check(
        &self,
        password: &Password,
        email: &Email,
        name: Option<&str>,
        field: &str,
    ) -> AppResult<()> {
        let problems = self.problems(password, email, name);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(
                [(field.to_string(), problems)].into_iter().collect(),
            ))
        }
    }

    fn problems(&self, password: &Password, email: &Email, name: Option<&str>) -> Vec<String> {
        let pw = password.expose();
        let len = password.chars();
        let mut out = Vec::new();
        if len < self.min_length {
            out.push(format!(
                "Use at least {} characters (this one has {len}).",
                self.min_length
            ));
        }
        if len > MAX_PASSWORD_LEN {
            out.push(format!(
                "Use at most {MAX_PASSWORD_LEN} characters (this one has {len})."
            ));
            // zxcvbn is slow on long inputs; the length rule already fails.
            return out;
        }
        let local = email.local_part();
        if local.chars().count() >= 3 && pw.to_lowercase().contains(&local.to_lowercase()) {
            out.push("Don't include the part of your email address before the @.".into());
        }
        if self.min_classes > 0 {
            let classes = [
                pw.chars().any(|c| c.is_lowercase()),
                pw.chars().any(|c| c.is_uppercase()),
                pw.chars().any(|c| c.is_ascii_digit()),
                pw.chars().any(|c| !c.is_alphanumeric()),
            ]
            .iter()
            .filter(|&&b| b)
            .count();
            if classes < self.min_classes as usize {
                out.push(format!(
                    "Mix at least {} of: lower-case letters, upper-case letters, digits, symbols.",
                    self.min_classes
                ));
            }
        }
        if !pw.is_empty() {
            let mut inputs = vec![email.as_str(), local];
            if let Some(n) = name {
                inputs.extend(n.split_whitespace());
            }
            let entropy = zxcvbn::zxcvbn(pw, &inputs);
            if u8::from(entropy.score()) < self.min_score {
                let mut msg = String::from("This password is too easy to guess.");
                if let Some(feedback) = entropy.feedback() {
                    if let Some(w) = feedback.warning() {
                        msg.push_str(&format!(" {w}"));
                    }
                    for s in feedback.suggestions() {
                        msg.push_str(&format!(" {s}"));
                    }
                } else {
                    msg.push_str(" Add more words that are less common.");
                }
                out.push(msg);
            }
        } else {
            out.push("Enter a password.".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            min_length: 12,
            min_score: 3,
            min_classes: 0,
        }
    }

    fn problems(pw: &str) -> Vec<String> {
        let email = Email::parse("ada.lovelace@example.com", "email").unwrap();
        policy().problems(&Password::new(pw), &email, Some("Ada Lovelace"))
    }

    #[test]
    fn a_strong_passphrase_passes() {
        assert!(problems("correct horse battery staple 42").is_empty());
    }

    #[test]
    fn short_passwords_say_how_long() {
        let p = problems("xK9#qz");
        assert!(p[0].contains("at least 12"), "{p:?}");
    }

    #[test]
    fn overlong_passwords_are_refused_not_truncated() {
        let p = problems(&"Zq9!vLm2#xR7".repeat(11));
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("at most 128"), "{p:?}");
    }

    #[test]
    fn common_passwords_fail_the_score() {
        let p = problems("password1234");
        assert!(p.iter().any(|m| m.contains("too easy to guess")), "{p:?}");
    }

    #[test]
    fn the_email_local_part_is_refused_case_insensitively() {
        let p = problems("xX-ADA.LOVELACE-trombone-77");
        assert!(p.iter().any(|m| m.contains("before the @")), "{p:?}");
    }

    #[test]
    fn the_class_rule_is_off_by_default_and_works_when_on() {
        assert!(problems("correct horse battery staple").is_empty());
        let strict = Policy {
            min_classes: 3,
            ..policy()
        };
        let email = Email::parse("x@example.com", "email").unwrap();
        let p = strict.problems(&Password::new("correct horse battery staple"), &email, None);
        assert!(p.iter().any(|m| m.contains("Mix at least 3")), "{p:?}");
    }

    #[tokio::test]
    async fn hashes_verify_and_carry_the_configured_cost() {
        let h = Hasher::new(Argon2Cost {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let pw = Password::new("correct horse battery staple");
        let phc = h.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify(&pw, &phc).await.unwrap());
        assert!(!h.verify(&Password::new("wrong"), &phc).await.unwrap());
        assert!(!h.verify(&pw, "not a hash").await.unwrap());
        assert!(!h.verify_dummy(&pw).await.unwrap());
    }
}
