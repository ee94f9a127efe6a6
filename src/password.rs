//! Password hashing (argon2id) and the password policy (docs/api.md §6).

use std::sync::Arc;

use anyhow::Context;
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::{Argon2Cost, Config};
use crate::domain::{Email, Password};
use crate::error::{AppError, AppResult};

/// Hashes and verifies passwords on a small pool of dedicated threads.
///
/// argon2id is deliberately expensive (~40 ms and 19 MiB at the default cost), so it
/// never runs on the async runtime. One thread per core takes jobs from a queue, which
/// bounds concurrency (a sign-in flood queues instead of multiplying memory), and:
/// - the threads run in the idle scheduling class, so when the machine is busy the
///   async workers answering session checks go first, while an idle machine still
///   hashes on every core;
/// - each thread reuses one argon2 memory buffer for verifications instead of
///   allocating 19 MiB per sign-in, and frees it after two idle seconds.
#[derive(Clone)]
pub struct Hasher {
    jobs: flume::Sender<Job>,
    /// A real hash of a random password, verified against for unknown emails so that
    /// "no such account" costs the same time as "wrong password" (OWASP ASVS V6.3).
    dummy_hash: Arc<str>,
}

enum Job {
    Hash(
        Password,
        tokio::sync::oneshot::Sender<anyhow::Result<String>>,
    ),
    Verify(Password, String, tokio::sync::oneshot::Sender<bool>),
    /// Other checks of a secret a client sends (TOTP codes): they queue behind the
    /// hashes, so a flood of codes cannot take the workers that answer session checks.
    Run(Box<dyn FnOnce() + Send>),
}

/// A hashing thread frees its argon2 buffer after this long without work.
const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(2);

impl Hasher {
    pub fn new(cost: Argon2Cost) -> anyhow::Result<Hasher> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2id cost: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (tx, rx) = flume::unbounded::<Job>();
        for i in 0..cores {
            let rx = rx.clone();
            let params = params.clone();
            std::thread::Builder::new()
                .name(format!("latch-hash-{i}"))
                .spawn(move || hash_worker(&rx, &params))
                .context("starting a hashing thread")?;
        }
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = hash_with(&argon, &crate::domain::new_token(), &mut Vec::new())?;
        Ok(Hasher {
            jobs: tx,
            dummy_hash: dummy.into(),
        })
    }

    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Hash(password.clone(), tx))?;
        Ok(rx.await.context("hashing thread gone")??)
    }

    /// The PHC strings of several secrets, hashed on every hashing thread at once.
    pub async fn hash_all(&self, secrets: &[Password]) -> AppResult<Vec<String>> {
        let mut replies = Vec::with_capacity(secrets.len());
        for s in secrets {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.submit(Job::Hash(s.clone(), tx))?;
            replies.push(rx);
        }
        let mut out = Vec::with_capacity(replies.len());
        for rx in replies {
            out.push(rx.await.context("hashing thread gone")??);
        }
        Ok(out)
    }

    /// Whether `password` matches the PHC string `phc` (a malformed hash never matches).
    pub async fn verify(&self, password: &Password, phc: &str) -> AppResult<bool> {
        metrics::counter!(crate::telemetry::names::PASSWORD_VERIFICATIONS).increment(1);
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Verify(password.clone(), phc.to_string(), tx))?;
        Ok(rx.await.context("hashing thread gone")?)
    }

    /// Spends the time of one verification and returns false.
    pub async fn verify_dummy(&self, password: &Password) -> AppResult<bool> {
        let dummy = self.dummy_hash.to_string();
        self.verify(password, &dummy).await.map(|_| false)
    }

    /// Runs `f` on a hashing thread and answers its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Run(Box::new(move || {
            let _ = tx.send(f());
        })))?;
        Ok(rx.await.context("hashing thread gone")?)
    }

    fn submit(&self, job: Job) -> AppResult<()> {
        self.jobs
            .send(job)
            .map_err(|_| AppError::internal(anyhow::anyhow!("hashing threads gone")))
    }
}

fn hash_worker(jobs: &flume::Receiver<Job>, params: &Params) {
    lower_priority();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut buffer: Vec<argon2::Block> = Vec::new();
    loop {
        let job = match jobs.recv_timeout(IDLE_RELEASE) {
            Ok(job) => job,
            Err(flume::RecvTimeoutError::Timeout) => {
                buffer = Vec::new(); // idle: give the memory back
                continue;
            }
            Err(flume::RecvTimeoutError::Disconnected) => return,
        };
        match job {
            Job::Hash(pw, reply) => {
                let _ = reply.send(hash_with(&argon, pw.expose(), &mut buffer));
            }
            Job::Verify(pw, phc, reply) => {
                let _ = reply.send(verify_with(pw.expose(), &phc, &mut buffer));
            }
            // A panic in a check must not take the thread with it: the caller sees
            // its answer channel close (an internal error) and the thread goes on.
            Job::Run(f) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            }
        }
    }
}

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs whenever a core has
/// nothing else to do and yields at once to any ordinary thread (the async workers).
/// Where that is refused, nice +19 is the fallback.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: the pointer passed is to a live local; the calls only change this
    // thread's scheduling, and a failure leaves it as it was.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, 19);
        }
    }
}

/// Grows `buffer` to the block count of `params` (kept between jobs).
fn blocks<'a>(buffer: &'a mut Vec<argon2::Block>, params: &Params) -> &'a mut [argon2::Block] {
    let n = params.block_count();
    if buffer.len() < n {
        buffer.resize(n, argon2::Block::default());
    }
    &mut buffer[..n]
}

/// argon2id of `password` with a fresh 16-byte salt from the OS CSPRNG, as a PHC string
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), computed in the thread's reused buffer.
fn hash_with(
    argon: &Argon2<'_>,
    password: &str,
    buffer: &mut Vec<argon2::Block>,
) -> anyhow::Result<String> {
    use argon2::password_hash::phc::{Output, ParamsString, Salt};
    let salt = Salt::generate();
    let mut out = [0u8; 32];
    argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            blocks(buffer, argon.params()),
        )
        .map_err(|e| anyhow::anyhow!("argon2 hash failed: {e}"))?;
    let phc = argon2::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params())
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    Ok(phc.to_string())
}

fn verify_with(password: &str, phc: &str, buffer: &mut Vec<argon2::Block>) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    if argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            blocks(buffer, &params),
        )
        .is_err()
    {
        return false;
    }
    // Constant-time comparison of the outputs.
    use subtle::ConstantTimeEq;
    out.ct_eq(expected.as_bytes()).into()
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

    #[tokio::test]
    async fn hashes_agree_with_the_reference_implementation() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let cost = Argon2Cost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let h = Hasher::new(cost).unwrap();
        let pw = Password::new("correct horse battery staple");
        // Ours verifies with the argon2 crate's own verifier...
        let ours = h.hash(&pw).await.unwrap();
        let parsed = argon2::PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(pw.expose().as_bytes(), &parsed)
                .is_ok()
        );
        // ...and a hash from the crate (other cost, as after a cost change) verifies with ours.
        let params = Params::new(2048, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(pw.expose().as_bytes())
            .unwrap()
            .to_string();
        assert!(h.verify(&pw, &theirs).await.unwrap());
        assert!(!h.verify(&Password::new("nope"), &theirs).await.unwrap());
    }
}
