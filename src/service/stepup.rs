//! Step-up: a fresh proof before a sensitive change (docs/api.md §7).
//!
//! A step-up route checks its own body and conditions first (rule 2), then calls
//! [`AppState::step_up`] with the proofs the request carried: a password, or a second
//! factor's code (checked and spent as at the sign-in step, `second_step`).

use super::*;
use crate::domain::Password;
use commands::Proof;

impl AppState {
    /// Whether the session proved a factor within `LATCH_FRESH_AUTH_SECS`.
    fn is_fresh(&self, session: &SessionRow) -> bool {
        let age_ms = Timestamp::now().millis() - session.authenticated_at.millis();
        let fresh_ms = i64::try_from(self.inner.cfg.fresh_auth_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        age_ms <= fresh_ms
    }

    /// Rules 1 and 3–6: a fresh session or a right proof lets the route run; a proof
    /// that is sent is checked even on a fresh session, and makes the session fresh.
    pub(super) async fn step_up(
        &self,
        p: &Principal,
        proof: &Proof,
        meta: &RequestMeta,
    ) -> AppResult<()> {
        if proof.is_empty() {
            return if self.is_fresh(&p.session) {
                Ok(())
            } else {
                Err(AppError::reauthentication_required())
            };
        }
        self.prove(p, proof, meta).await.map(drop)
    }

    /// Every proof sent must be right; then the session has proven a factor now (the
    /// instant returned). A password is counted toward the password lockout as
    /// change-password's is (any password on an account without one too);
    /// OWASP ASVS 5.0 V6.3.1 (guessing limits apply to every password check).
    async fn prove(
        &self,
        p: &Principal,
        proof: &Proof,
        meta: &RequestMeta,
    ) -> AppResult<Timestamp> {
        if let Some(password) = &proof.password {
            self.prove_password(p, password).await?;
        }
        if let Some(assertion) = &proof.passkey {
            self.prove_passkey(p, assertion).await?;
        }
        if let Some(code) = &proof.code {
            // A code on an account without 2FA is INVALID_CODE and counts nothing
            // (rule 5); with 2FA on, it is checked and spent as at the sign-in step.
            let row = self
                .enabled_two_factor(&p.user.id)
                .await?
                .ok_or_else(AppError::invalid_code)?;
            self.check_second_factor(&p.user, &row, code, meta).await?;
        }
        if proof.password.is_some() {
            // Every proof was right: the password's failure count starts over, as
            // after a successful sign-in.
            self.inner.store.clear_failures(&p.user.email).await?;
        }
        let now = Timestamp::now();
        self.inner
            .store
            .mark_authenticated(&p.session.id, now)
            .await?;
        Ok(now)
    }

    /// The signed-in user's password, checked as change-password checks its current
    /// one: 423 while the email is locked; one argon2 verification whether or not a
    /// password is set (the dummy hash otherwise); a wrong one is counted toward the
    /// lockout (401 `INVALID_CREDENTIALS`, or 423 once concurrency let it past).
    pub(super) async fn prove_password(&self, p: &Principal, password: &Password) -> AppResult<()> {
        let email = Email::parse(&p.user.email, "email")?;
        self.check_lock(&email).await?;
        self.verify_current_password(p, &email, password).await
    }

    /// [`Self::prove_password`] once the lock was checked (change-password checks it
    /// before its policy check, so a locked email is 423 before a 422).
    pub(super) async fn verify_current_password(
        &self,
        p: &Principal,
        email: &Email,
        password: &Password,
    ) -> AppResult<()> {
        let hasher = &self.inner.hasher;
        let ok = match self.inner.store.password_hash(&p.user.id).await? {
            Some(h) => hasher.verify(password, &h).await?,
            None => {
                hasher.verify_dummy(password).await?;
                false
            }
        };
        if ok {
            return Ok(());
        }
        let err = self.count_failure(email, &self.inner.cfg).await?;
        Err(if err.kind() == Kind::AccountLocked {
            err
        } else {
            AppError::wrong_current_password()
        })
    }

    /// `reauthenticate`: checks the proofs sent and does nothing else; the session is
    /// fresh until the answer's time.
    #[tracing::instrument(skip_all)]
    pub async fn reauthenticate(
        &self,
        p: &Principal,
        input: impl Submission<Proof>,
        meta: &RequestMeta,
    ) -> AppResult<Timestamp> {
        let proof = self.admit(Flow::Reauthenticate, meta, input).await?;
        if proof.is_empty() {
            return Err(AppError::bad_request(
                "Send a proof: your password, a code or a passkey.",
            ));
        }
        let now = self.prove(p, &proof, meta).await?;
        Ok(now.plus_secs(self.inner.cfg.fresh_auth_secs))
    }
}
