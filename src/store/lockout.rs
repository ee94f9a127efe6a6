//! Failed sign-in counting and locks, per normalized email.

use super::*;

impl Store {
    /// When the email is locked, the instant the lock ends.
    pub async fn locked_until(&self, email: &str) -> sqlx::Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT locked_until FROM sign_in_failures WHERE email = $1")
            .bind(email)
            .fetch_optional(&*self.pool())
            .await?;
        let until: Option<i64> = match row {
            Some(r) => r.try_get("locked_until")?,
            None => None,
        };
        let now = Timestamp::now();
        Ok(until.map(Timestamp).filter(|u| *u > now))
    }

    /// Counts one failed sign-in for the email, atomically (one upsert). The count
    /// restarts when the window has passed or an earlier lock has ended; reaching
    /// `threshold` sets the lock.
    pub async fn record_failure(
        &self,
        email: &str,
        window_secs: u64,
        threshold: u32,
        lock_secs: u64,
    ) -> sqlx::Result<FailureCount> {
        let now = Timestamp::now();
        let window_start = now.millis() - i64::try_from(window_secs * 1000).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "INSERT INTO sign_in_failures (email, failures, first_failure_at, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $5 ELSE NULL END) \
             ON CONFLICT (email) DO UPDATE SET \
               failures = CASE WHEN sign_in_failures.first_failure_at <= $3 \
                   OR (sign_in_failures.locked_until IS NOT NULL AND sign_in_failures.locked_until <= $2) \
                   THEN 1 ELSE sign_in_failures.failures + 1 END, \
               first_failure_at = CASE WHEN sign_in_failures.first_failure_at <= $3 \
                   OR (sign_in_failures.locked_until IS NOT NULL AND sign_in_failures.locked_until <= $2) \
                   THEN $2 ELSE sign_in_failures.first_failure_at END, \
               locked_until = CASE WHEN (CASE WHEN sign_in_failures.first_failure_at <= $3 \
                   OR (sign_in_failures.locked_until IS NOT NULL AND sign_in_failures.locked_until <= $2) \
                   THEN 1 ELSE sign_in_failures.failures + 1 END) >= $4 \
                   THEN $5 ELSE NULL END \
             RETURNING failures, locked_until",
        )
        .bind(email)
        .bind(now.millis())
        .bind(window_start)
        .bind(i64::from(threshold))
        .bind(now.plus_secs(lock_secs).millis())
        .fetch_one(&*self.pool())
        .await?;
        Ok(FailureCount {
            failures: row.try_get("failures")?,
            locked_until: row
                .try_get::<Option<i64>, _>("locked_until")?
                .map(Timestamp),
        })
    }

    pub async fn clear_failures(&self, email: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE email = $1")
            .bind(email)
            .execute(&*self.pool())
            .await?;
        Ok(())
    }
}
