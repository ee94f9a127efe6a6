//! The periodic purge of what has expired (README "Running in production",
//! housekeeping).

use super::{Backend, Store};
use crate::domain::Timestamp;

/// How long after its end a session is purged: longer than any difference between
/// the instances' clocks latch tolerates (see `Store::purge_sessions`).
const PURGE_GRACE_MS: i64 = 5 * 60 * 1000;

impl Store {
    /// Deletes what has expired: sessions, social sign-in states, two-factor tickets,
    /// trusted devices, passkey ceremonies, old email records,
    /// stale failure counts, and one-time tokens that were used or are long expired
    /// (a recently expired verification link still tells resend which password the
    /// newest sign-up chose). Plain idempotent DELETEs, so several instances may run it
    /// at once. Returns the number of rows removed.
    pub async fn purge_expired(&self, lockout_window_secs: u64) -> sqlx::Result<u64> {
        let now = Timestamp::now().millis();
        let day = 86_400_000_i64;
        let window = i64::try_from(lockout_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut removed = 0;
        removed += self.purge_sessions(now).await?;
        removed += sqlx::query("DELETE FROM oauth_states WHERE expires_at <= $1")
            .bind(now)
            .execute(&*self.pool())
            .await?
            .rows_affected();
        removed += sqlx::query(
            "DELETE FROM one_time_tokens WHERE expires_at <= $1 \
             OR (consumed_at IS NOT NULL AND consumed_at <= $2)",
        )
        .bind(now - 30 * day)
        .bind(now - day)
        .execute(&*self.pool())
        .await?
        .rows_affected();
        for sql in [
            "DELETE FROM two_factor_tickets WHERE expires_at <= $1",
            "DELETE FROM trusted_devices WHERE expires_at <= $1",
            "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1",
            // An expired enrollment's sealed secret goes.
            "UPDATE two_factor SET pending_secret = NULL, pending_expires_at = NULL \
             WHERE pending_expires_at <= $1",
        ] {
            removed += sqlx::query(sql)
                .bind(now)
                .execute(&*self.pool())
                .await?
                .rows_affected();
        }
        // A two-factor row left with neither an authenticator nor an enrollment.
        removed +=
            sqlx::query("DELETE FROM two_factor WHERE secret IS NULL AND pending_secret IS NULL")
                .execute(&*self.pool())
                .await?
                .rows_affected();
        removed += sqlx::query("DELETE FROM email_log WHERE sent_at <= $1")
            .bind(now - 3_600_000)
            .execute(&*self.pool())
            .await?
            .rows_affected();
        removed += sqlx::query(
            "DELETE FROM sign_in_failures WHERE (locked_until IS NULL OR locked_until <= $1) \
             AND first_failure_at <= $2",
        )
        .bind(now)
        .bind(now.saturating_sub(window))
        .execute(&*self.pool())
        .await?
        .rows_affected();
        Ok(removed)
    }

    /// Deletes the sessions that ended over [`PURGE_GRACE_MS`] before `now`. On
    /// PostgreSQL the transaction is marked as the purge (by its own transaction id,
    /// so no setting left on a role or a connection can pass for it), and the trigger
    /// names none of them: naming thousands would make every instance forget
    /// everything it remembers (migration 0008). The grace keeps that safe while the
    /// instances' clocks differ: a session one of them still takes for live is not
    /// purged unannounced, so revoking it later still names it.
    async fn purge_sessions(&self, now: i64) -> sqlx::Result<u64> {
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('latch.purge', txid_current()::text, true)")
                .execute(&mut *tx)
                .await?;
        }
        let removed = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.saturating_sub(PURGE_GRACE_MS))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }
}
