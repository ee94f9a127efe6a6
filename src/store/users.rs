//! Users: look-ups by email and id, creation, passwords.

use super::*;

impl Store {
    pub async fn user_by_email(&self, email: &str) -> sqlx::Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(&*self.pool())
            .await?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    pub async fn user_by_id(&self, id: &UserId) -> sqlx::Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&*self.pool())
            .await?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    /// The user's password hash (argon2id PHC string), when one is set: read only by
    /// the operations that compare a password.
    pub async fn password_hash(&self, user_id: &UserId) -> sqlx::Result<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id.as_str())
            .fetch_optional(&*self.pool())
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<String>, _>("password_hash"))
            .transpose()?
            .flatten())
    }

    /// Inserts an unverified user without a password; `None` when the email is taken
    /// (the unique index decides, so concurrent sign-ups leave one account).
    pub async fn insert_unverified_user(
        &self,
        email: &str,
        name: &str,
    ) -> sqlx::Result<Option<UserId>> {
        let id = UserId::new(new_id());
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "INSERT INTO users (id, email, name, email_verified, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(email)
        .bind(name)
        .bind(now)
        .execute(&*self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(id))
    }

    pub async fn set_password(&self, user_id: &UserId, hash: Option<&str>) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(Timestamp::now().millis())
            .bind(user_id.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Sets the password only if none is set; false when one already was.
    pub async fn set_password_if_none(&self, user_id: &UserId, hash: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 \
             WHERE id = $3 AND password_hash IS NULL",
        )
        .bind(hash)
        .bind(Timestamp::now().millis())
        .bind(user_id.as_str())
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
