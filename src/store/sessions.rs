//! Sessions: creation, the session check, extension, revocation.

use super::*;

impl Store {
    /// A new session; `None` when its user was deleted meanwhile (the foreign key
    /// decides, so a sign-in racing a deletion leaves no session behind).
    pub async fn insert_session(&self, s: NewSession<'_>) -> sqlx::Result<Option<SessionRow>> {
        let now = Timestamp::now();
        let row = SessionRow {
            id: SessionId::new(new_id()),
            user_id: s.user_id.clone(),
            expires_at: s.expires_at,
            max_expires_at: s.max_expires_at,
            refreshed_at: now,
            persistent: s.persistent,
            ip_address: s.ip_address.map(str::to_string),
            user_agent: s.user_agent.map(str::to_string),
            created_at: now,
            authenticated_at: now,
            last_active_at: now,
            last_ip_address: s.ip_address.map(str::to_string),
            auth_methods: s.auth_methods.to_vec(),
        };
        let inserted = sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, expires_at, max_expires_at, refreshed_at, \
             persistent, ip_address, user_agent, created_at, authenticated_at, last_active_at, \
             last_ip_address, auth_methods) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $8, $11)",
        )
        .bind(row.id.as_str())
        .bind(s.token_hash.as_str())
        .bind(row.user_id.as_str())
        .bind(row.expires_at.millis())
        .bind(row.max_expires_at.millis())
        .bind(now.millis())
        .bind(i64::from(row.persistent))
        .bind(row.ip_address.as_deref())
        .bind(row.user_agent.as_deref())
        .bind(now.millis())
        .bind(rows::join_methods(&row.auth_methods))
        .execute(&*self.pool())
        .await;
        match inserted {
            Ok(_) => Ok(Some(row)),
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The unexpired session with this token hash, and its user.
    ///
    /// This is the hot path of every authenticated request. On SQLite it reads the
    /// file directly in the calling thread through a per-thread read-only connection
    /// with a cached prepared statement: an indexed point read in WAL mode takes a few
    /// microseconds and never waits for writers, whereas a round trip through sqlx's
    /// connection worker thread costs two thread hand-offs (measured: most of the CPU
    /// of a session check). Each thread also remembers the answers it read, for at
    /// most a second and only until latch next uses its pool (see `sqlite_read`).
    /// On PostgreSQL, shared by several instances, answers are remembered while the
    /// database's notifications vouch for them (see `pg_cache`).
    pub async fn session_by_token(
        &self,
        token_hash: &TokenHash,
    ) -> anyhow::Result<Option<(SessionRow, UserRow)>> {
        let now = Timestamp::now().millis();
        if let Some(file) = &self.sqlite_file {
            return sqlite_read::session_by_token(file, self.pool.generation(), token_hash, now)
                .context("reading the session");
        }
        // PostgreSQL serving: from memory while the listener vouches for it
        // (`pg_cache`). A miss, or no listener (an operator command), is one prepared
        // statement, one round trip, no transaction.
        let cache = self.pg_cache.as_ref().map(|pg| &pg.cache);
        let generation = self.pool.generation();
        if let Some(answer) = cache.and_then(|c| c.get(token_hash, generation.load(), now)) {
            return Ok(answer);
        }
        let ticket = cache.map(|c| c.ticket(generation.load()));
        let row = sqlx::query(sqlx::AssertSqlSafe(SESSION_BY_TOKEN))
            .bind(token_hash.as_str())
            .bind(now)
            .fetch_optional(self.pool.for_session_read())
            .await?;
        let rows = row.as_ref().map(rows::session_check).transpose()?;
        if let (Some(c), Some(ticket)) = (cache, ticket) {
            c.keep(token_hash, ticket, generation.load(), rows.as_ref());
        }
        Ok(rows)
    }

    pub async fn extend_session(&self, id: &SessionId, expires_at: Timestamp) -> sqlx::Result<()> {
        sqlx::query("UPDATE sessions SET expires_at = $1, refreshed_at = $2 WHERE id = $3")
            .bind(expires_at.millis())
            .bind(Timestamp::now().millis())
            .bind(id.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session_by_token(&self, token_hash: &TokenHash) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Deletes every session of the user except `keep`; how many went.
    pub async fn delete_sessions_of(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
    ) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id.as_str())
            .bind(keep.map_or("", SessionId::as_str))
            .execute(&*self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes one active session of the user; false when the user has no such session.
    pub async fn delete_session_of(&self, user_id: &UserId, id: &SessionId) -> sqlx::Result<bool> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id = $2 AND expires_at > $3")
                .bind(user_id.as_str())
                .bind(id.as_str())
                .bind(Timestamp::now().millis())
                .execute(&*self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a use of the session: when and from where.
    pub async fn record_activity(
        &self,
        id: &SessionId,
        at: Timestamp,
        ip: Option<&str>,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE sessions SET last_active_at = $1, last_ip_address = $2 WHERE id = $3")
            .bind(at.millis())
            .bind(ip)
            .bind(id.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Records a factor proven in the session now (a step-up).
    pub async fn mark_authenticated(&self, id: &SessionId, at: Timestamp) -> sqlx::Result<()> {
        sqlx::query("UPDATE sessions SET authenticated_at = $1 WHERE id = $2")
            .bind(at.millis())
            .bind(id.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// The user's unexpired sessions, most recently active first, at most `limit`.
    pub async fn sessions_of(&self, user_id: &UserId, limit: i64) -> sqlx::Result<Vec<SessionRow>> {
        let sql = format!(
            "SELECT {} FROM sessions WHERE user_id = $1 AND expires_at > $2 \
             ORDER BY last_active_at DESC, created_at DESC LIMIT $3",
            rows::SESSION_COLUMNS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id.as_str())
            .bind(Timestamp::now().millis())
            .bind(limit)
            .fetch_all(&*self.pool())
            .await?
            .iter()
            .map(rows::session_at)
            .collect()
    }
}
