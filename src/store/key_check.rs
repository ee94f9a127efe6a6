//! The stored key check: which sealing key this database was set up with.

use super::*;
use crate::sealing::SealingKey;

impl Store {
    /// Stores `key`'s check on the first start; afterwards, whether `key` passes the
    /// stored one (several instances starting at once agree on the first check stored).
    pub async fn check_key(&self, key: &SealingKey) -> anyhow::Result<bool> {
        sqlx::query(
            "INSERT INTO latch_settings (name, value) VALUES ('key_check', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(key.check_value()?)
        .execute(&*self.pool())
        .await?;
        let stored: String =
            sqlx::query_scalar("SELECT value FROM latch_settings WHERE name = 'key_check'")
                .fetch_one(&*self.pool())
                .await?;
        Ok(key.passes(&stored))
    }
}
