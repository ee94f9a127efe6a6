//! Email accounting: the hourly cap and the resend cooldown.

use super::*;

impl Store {
    /// Records an email about to be sent to the user, unless the user already got
    /// `hourly_cap` emails in the last hour, or (with `cooldown_since`) a verification
    /// email after that instant. The transaction first writes the user's row (a no-op
    /// update), which serializes concurrent reservations for one user on both
    /// databases, so two requests can never both take the last place.
    pub async fn reserve_email(
        &self,
        user_id: &UserId,
        kind: &str,
        hourly_cap: i64,
        cooldown_since: Option<Timestamp>,
    ) -> sqlx::Result<bool> {
        let now = Timestamp::now();
        let hour_ago = now.millis() - 3_600_000;
        // With no cooldown, compare against a time in the future so nothing matches.
        let cooldown = cooldown_since.map_or(i64::MAX, Timestamp::millis);
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        lock_user_row(&mut tx, user_id).await?;
        let done = sqlx::query(
            "INSERT INTO email_log (id, user_id, kind, sent_at) \
             SELECT $1, $2, $3, $4 \
             WHERE (SELECT COUNT(*) FROM email_log WHERE user_id = $2 AND sent_at > $5) < $6 \
             AND NOT EXISTS (SELECT 1 FROM email_log \
                 WHERE user_id = $2 AND kind = 'verify-email' AND sent_at > $7)",
        )
        .bind(new_id())
        .bind(user_id.as_str())
        .bind(kind)
        .bind(now.millis())
        .bind(hour_ago)
        .bind(hourly_cap)
        .bind(cooldown)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
