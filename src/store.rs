//! Storage: every SQL statement latch runs.
//!
//! One store over sqlx's `Any` driver, so the same statements serve SQLite and
//! PostgreSQL: `$N` placeholders, portable types only (TEXT ids, BIGINT epoch
//! milliseconds, INTEGER 0/1 booleans), `ON CONFLICT` and `RETURNING`, which both
//! accept. Anything that must be atomic across concurrent requests (or several
//! latch instances) is one statement or one transaction that starts with a write.

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::domain::Timestamp;

mod generation;
use generation::Generation;

/// Which database `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shared connection pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file, for the in-thread read of the session check.
    sqlite_file: Option<std::sync::Arc<std::path::PathBuf>>,
    /// Moves when a use of the pool starts and when it ends (see [`PoolUse`]): a
    /// session check remembered under an older value is read again (SQLite only).
    generation: std::sync::Arc<Generation>,
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub password_hash: Option<String>,
    pub personal_workspace_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A session as stored (never its token, only the token's hash).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub expires_at: Timestamp,
    pub max_expires_at: Timestamp,
    pub refreshed_at: Timestamp,
    pub persistent: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
}

/// A one-time token that was just consumed.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub callback_url: Option<String>,
    pub signup_request: Option<String>,
}

/// A followed verification link.
#[derive(Debug, Clone)]
pub struct VerifiedLink {
    pub user_id: String,
    /// Whether the link's password became the account's (its request was the only
    /// outstanding one).
    pub password_applied: bool,
}

/// The purposes of one-time tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify-email",
            Purpose::ResetPassword => "reset-password",
        }
    }
}

/// A new one-time token.
pub struct NewToken<'a> {
    pub purpose: Purpose,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub password_hash: Option<&'a str>,
    pub name: Option<&'a str>,
    pub callback_url: Option<&'a str>,
    pub expires_at: Timestamp,
}

/// How many sign-up requests of one account stay outstanding (contract §4).
pub const MAX_OUTSTANDING_SIGNUPS: i64 = 5;

/// A verification link for a sign-up request (`request` from [`new_request_id`], or
/// the id of an earlier request when resending).
pub struct NewSignupLink<'a> {
    pub request: &'a str,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub password_hash: Option<&'a str>,
    pub name: &'a str,
    pub callback_url: Option<&'a str>,
    pub expires_at: Timestamp,
}

/// The newest sign-up request of an account.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    pub request: String,
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub callback_url: Option<String>,
}

/// A new session.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub expires_at: Timestamp,
    pub max_expires_at: Timestamp,
    pub persistent: bool,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A new social sign-in state.
pub struct NewOauthState<'a> {
    pub state_hash: &'a str,
    /// SHA-256 of the `oauth_state` cookie that binds the flow to its browser.
    pub binding_hash: &'a str,
    pub provider: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    pub callback_url: Option<&'a str>,
    pub error_callback_url: Option<&'a str>,
    pub link_user_id: Option<&'a str>,
    pub expires_at: Timestamp,
}

/// A consumed social sign-in state.
#[derive(Debug, Clone)]
pub struct OauthStateRow {
    pub pkce_verifier: String,
    pub nonce: String,
    pub callback_url: Option<String>,
    pub error_callback_url: Option<String>,
    pub link_user_id: Option<String>,
}

/// A workspace membership of a user.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub workspace_id: String,
    pub name: String,
    pub slug: String,
    pub role: String,
}

/// A linked social identity.
#[derive(Debug, Clone)]
pub struct LinkedRow {
    pub provider: String,
    pub subject: String,
    pub created_at: Timestamp,
}

/// Outcome of recording a failed sign-in.
#[derive(Debug, Clone, Copy)]
pub struct FailureCount {
    pub failures: i64,
    pub locked_until: Option<Timestamp>,
}

/// The session check: one indexed read of the session and its user.
const SESSION_BY_TOKEN: &str = "SELECT s.id AS s_id, s.user_id, s.expires_at, s.max_expires_at, \
     s.refreshed_at, s.persistent, s.ip_address, s.user_agent, s.created_at AS s_created_at, \
     u.id, u.email, u.name, u.email_verified, u.image, u.password_hash, u.personal_workspace_id, \
     u.created_at, u.updated_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2";

const USER_COLUMNS: &str = "id, email, name, email_verified, image, password_hash, personal_workspace_id, created_at, updated_at";

fn user_row(r: &AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
        image: r.try_get("image")?,
        password_hash: r.try_get("password_hash")?,
        personal_workspace_id: r.try_get("personal_workspace_id")?,
        created_at: Timestamp(r.try_get("created_at")?),
        updated_at: Timestamp(r.try_get("updated_at")?),
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A sign-up request id: time-ordered (UUIDv7, monotonic within the process), so
/// "newest" is the greatest id.
pub fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The pool, lent for one statement or transaction. Taking it and dropping it (after
/// the statement's or the transaction's end: hold it in a local for transactions)
/// both move the store's generation, so no session check remembered before a write
/// is trusted after it (see `sqlite_read`). Every use of the pool goes through
/// [`Store::pool`].
struct PoolUse<'a> {
    pool: &'a AnyPool,
    generation: &'a Generation,
}

impl std::ops::Deref for PoolUse<'_> {
    type Target = AnyPool;
    fn deref(&self) -> &AnyPool {
        self.pool
    }
}

impl Drop for PoolUse<'_> {
    fn drop(&mut self) {
        self.generation.bump();
    }
}

impl Store {
    fn pool(&self) -> PoolUse<'_> {
        self.generation.bump();
        PoolUse {
            pool: &self.pool,
            generation: &self.generation,
        }
    }

    /// Connects with the pool settings of `cfg`, creating the SQLite file and its
    /// folder when needed.
    pub async fn from_config(cfg: &crate::config::Config) -> anyhow::Result<Store> {
        Store::connect(
            &cfg.database_url,
            cfg.db_max_connections,
            std::time::Duration::from_secs(cfg.db_acquire_timeout_secs),
        )
        .await
    }

    /// Connects, creating the SQLite file and its folder when needed.
    pub async fn connect(
        url: &str,
        max_connections: Option<u32>,
        acquire_timeout: std::time::Duration,
    ) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://");
        };
        if backend == Backend::Sqlite
            && let Some(dir) = sqlite_parent_dir(url)
        {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating database folder {}", dir.display()))?;
        }
        let options = AnyConnectOptions::from_str(url).context("parsing DATABASE_URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.unwrap_or(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            }))
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; NORMAL is durable
                        // across application crashes in WAL mode.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_file(url).map(std::sync::Arc::new),
            Backend::Postgres => None,
        };
        let generation = std::sync::Arc::new(match &sqlite_file {
            Some(file) => Generation::beside(file).with_context(|| {
                format!("opening the write generation beside {}", file.display())
            })?,
            None => Generation::local(),
        });
        Ok(Store {
            pool,
            backend,
            sqlite_file,
            generation,
        })
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite")
                .run(&*self.pool())
                .await
                .context("applying SQLite migrations")?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres")
                .run(&*self.pool())
                .await
                .context("applying PostgreSQL migrations")?,
        }
        Ok(())
    }

    /// Deletes what has expired: sessions, social sign-in states, old email records,
    /// stale failure counts, and one-time tokens that were used or are long expired
    /// (a recently expired verification link still tells resend which password the
    /// newest sign-up chose). Plain idempotent DELETEs, so several instances may run it
    /// at once. Returns the number of rows removed.
    pub async fn purge_expired(&self, lockout_window_secs: u64) -> sqlx::Result<u64> {
        let now = Timestamp::now().millis();
        let day = 86_400_000_i64;
        let window = i64::try_from(lockout_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut removed = 0;
        removed += sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&*self.pool())
            .await?
            .rows_affected();
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

    /// Closes the pool: every later query fails (used at shutdown and by tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&*self.pool()).await.is_ok()
    }

    // ---- users -------------------------------------------------------------------

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

    pub async fn user_by_id(&self, id: &str) -> sqlx::Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&*self.pool())
            .await?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    /// Inserts an unverified user without a password; `None` when the email is taken
    /// (the unique index decides, so concurrent sign-ups leave one account).
    pub async fn insert_unverified_user(
        &self,
        email: &str,
        name: &str,
    ) -> sqlx::Result<Option<String>> {
        let id = new_id();
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "INSERT INTO users (id, email, name, email_verified, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(email)
        .bind(name)
        .bind(now)
        .execute(&*self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(id))
    }

    pub async fn set_password(&self, user_id: &str, hash: Option<&str>) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(Timestamp::now().millis())
            .bind(user_id)
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Sets the password only if none is set; false when one already was.
    pub async fn set_password_if_none(&self, user_id: &str, hash: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 \
             WHERE id = $3 AND password_hash IS NULL",
        )
        .bind(hash)
        .bind(Timestamp::now().millis())
        .bind(user_id)
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- one-time tokens ---------------------------------------------------------

    pub async fn insert_token(&self, t: NewToken<'_>) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO one_time_tokens \
             (id, token_hash, user_id, purpose, password_hash, name, callback_url, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id())
        .bind(t.token_hash)
        .bind(t.user_id)
        .bind(t.purpose.as_str())
        .bind(t.password_hash)
        .bind(t.name)
        .bind(t.callback_url)
        .bind(t.expires_at.millis())
        .bind(Timestamp::now().millis())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Voids every outstanding token of `purpose` for the user.
    pub async fn void_tokens(&self, user_id: &str, purpose: Purpose) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
        )
        .bind(Timestamp::now().millis())
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// The user of a usable (unexpired, unused) reset token, without consuming it.
    pub async fn reset_token_user(&self, token_hash: &str) -> sqlx::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT user_id FROM one_time_tokens WHERE token_hash = $1 \
             AND purpose = 'reset-password' AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(Timestamp::now().millis())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| r.try_get("user_id")).transpose()
    }

    /// Stores a verification link of a sign-up request, then voids the links of
    /// every outstanding request but the newest [`MAX_OUTSTANDING_SIGNUPS`] (a newer
    /// request voids the oldest), in one transaction.
    pub async fn insert_signup_link(&self, t: NewSignupLink<'_>) -> sqlx::Result<()> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO one_time_tokens \
             (id, token_hash, user_id, purpose, password_hash, name, callback_url, expires_at, \
              created_at, signup_request) \
             VALUES ($1, $2, $3, 'verify-email', $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id())
        .bind(t.token_hash)
        .bind(t.user_id)
        .bind(t.password_hash)
        .bind(t.name)
        .bind(t.callback_url)
        .bind(t.expires_at.millis())
        .bind(now)
        .bind(t.request)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL \
             AND signup_request NOT IN ( \
                 SELECT signup_request FROM one_time_tokens \
                 WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL \
                 AND expires_at > $1 \
                 GROUP BY signup_request ORDER BY signup_request DESC LIMIT $3)",
        )
        .bind(now)
        .bind(t.user_id)
        .bind(MAX_OUTSTANDING_SIGNUPS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The password hash of the user's newest outstanding sign-up request (`None`
    /// when there is none, or it carries no password): before verification, sign-in
    /// compares with this one hash only.
    pub async fn newest_outstanding_signup_hash(
        &self,
        user_id: &str,
    ) -> sqlx::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT password_hash FROM one_time_tokens \
             WHERE user_id = $1 AND purpose = 'verify-email' AND consumed_at IS NULL \
             AND expires_at > $2 ORDER BY signup_request DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(Timestamp::now().millis())
        .fetch_optional(&*self.pool())
        .await?;
        Ok(row
            .map(|r| r.try_get::<Option<String>, _>("password_hash"))
            .transpose()?
            .flatten())
    }

    /// The newest sign-up request of the user, outstanding or not (resend mails a
    /// link for it).
    pub async fn newest_signup(&self, user_id: &str) -> sqlx::Result<Option<SignupRequest>> {
        let row = sqlx::query(
            "SELECT signup_request, password_hash, name, callback_url FROM one_time_tokens \
             WHERE user_id = $1 AND purpose = 'verify-email' AND signup_request IS NOT NULL \
             ORDER BY signup_request DESC, created_at DESC LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(SignupRequest {
                request: r.try_get("signup_request")?,
                password_hash: r.try_get("password_hash")?,
                name: r.try_get("name")?,
                callback_url: r.try_get("callback_url")?,
            })
        })
        .transpose()
    }

    /// Verifies an account from a verification link, atomically: the link is consumed
    /// (exactly once, even under concurrency), every other outstanding link of the user
    /// is voided, and the link's name is applied. Its password is applied only when its
    /// sign-up request was the account's only outstanding one: when several were, the
    /// mails looked alike and one may be a stranger's (contract §4 "Unverified
    /// accounts"). `None`: the token is unknown, used, voided or expired.
    pub async fn consume_verification(
        &self,
        token_hash: &str,
    ) -> sqlx::Result<Option<VerifiedLink>> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        let Some(token) = consume_in(&mut tx, token_hash, Purpose::VerifyEmail, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT signup_request) FROM one_time_tokens \
             WHERE user_id = $1 AND purpose = 'verify-email' AND consumed_at IS NULL \
             AND expires_at > $2 AND signup_request <> $3",
        )
        .bind(&token.user_id)
        .bind(now)
        .bind(token.signup_request.as_deref().unwrap_or(""))
        .fetch_one(&mut *tx)
        .await?;
        let password_applied = others == 0 && token.password_hash.is_some();
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(&token.user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET email_verified = 1, \
             password_hash = COALESCE($1, password_hash), name = COALESCE($2, name), updated_at = $3 \
             WHERE id = $4",
        )
        .bind(password_applied.then_some(token.password_hash.as_deref()).flatten())
        .bind(token.name.as_deref())
        .bind(now)
        .bind(&token.user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(VerifiedLink {
            user_id: token.user_id,
            password_applied,
        }))
    }

    /// Completes a password reset atomically: consumes the reset token, sets the
    /// password, marks the email verified, voids outstanding verification and reset
    /// links, and revokes every session. Returns the user id, or `None` for a bad token.
    pub async fn consume_reset(
        &self,
        token_hash: &str,
        new_hash: &str,
    ) -> sqlx::Result<Option<String>> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        let Some(token) = consume_in(&mut tx, token_hash, Purpose::ResetPassword, now).await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 WHERE user_id = $2 AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(&token.user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, email_verified = 1, updated_at = $2 WHERE id = $3",
        )
        .bind(new_hash)
        .bind(now)
        .bind(&token.user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(&token.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(token.user_id))
    }

    // ---- email accounting --------------------------------------------------------

    /// Records an email about to be sent to the user, unless the user already got
    /// `hourly_cap` emails in the last hour, or (with `cooldown_since`) a verification
    /// email after that instant. The transaction first writes the user's row (a no-op
    /// update), which serializes concurrent reservations for one user on both
    /// databases, so two requests can never both take the last place.
    pub async fn reserve_email(
        &self,
        user_id: &str,
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
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO email_log (id, user_id, kind, sent_at) \
             SELECT $1, $2, $3, $4 \
             WHERE (SELECT COUNT(*) FROM email_log WHERE user_id = $2 AND sent_at > $5) < $6 \
             AND NOT EXISTS (SELECT 1 FROM email_log \
                 WHERE user_id = $2 AND kind = 'verify-email' AND sent_at > $7)",
        )
        .bind(new_id())
        .bind(user_id)
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

    // ---- sessions ----------------------------------------------------------------

    pub async fn insert_session(&self, s: NewSession<'_>) -> sqlx::Result<SessionRow> {
        let now = Timestamp::now();
        let row = SessionRow {
            id: new_id(),
            user_id: s.user_id.to_string(),
            expires_at: s.expires_at,
            max_expires_at: s.max_expires_at,
            refreshed_at: now,
            persistent: s.persistent,
            ip_address: s.ip_address.map(str::to_string),
            user_agent: s.user_agent.map(str::to_string),
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, expires_at, max_expires_at, refreshed_at, \
             persistent, ip_address, user_agent, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&row.id)
        .bind(s.token_hash)
        .bind(&row.user_id)
        .bind(row.expires_at.millis())
        .bind(row.max_expires_at.millis())
        .bind(now.millis())
        .bind(i64::from(row.persistent))
        .bind(row.ip_address.as_deref())
        .bind(row.user_agent.as_deref())
        .bind(now.millis())
        .execute(&*self.pool())
        .await?;
        Ok(row)
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
    /// On PostgreSQL, shared by several instances, every check reads the database.
    pub async fn session_by_token(
        &self,
        token_hash: &str,
    ) -> anyhow::Result<Option<(SessionRow, UserRow)>> {
        let now = Timestamp::now().millis();
        if let Some(file) = &self.sqlite_file {
            return sqlite_read::session_by_token(file, &self.generation, token_hash, now)
                .context("reading the session");
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(SESSION_BY_TOKEN))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&*self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let session = SessionRow {
            id: r.try_get("s_id")?,
            user_id: r.try_get("user_id")?,
            expires_at: Timestamp(r.try_get("expires_at")?),
            max_expires_at: Timestamp(r.try_get("max_expires_at")?),
            refreshed_at: Timestamp(r.try_get("refreshed_at")?),
            persistent: r.try_get::<i64, _>("persistent")? != 0,
            ip_address: r.try_get("ip_address")?,
            user_agent: r.try_get("user_agent")?,
            created_at: Timestamp(r.try_get("s_created_at")?),
        };
        Ok(Some((session, user_row(&r)?)))
    }

    pub async fn extend_session(&self, id: &str, expires_at: Timestamp) -> sqlx::Result<()> {
        sqlx::query("UPDATE sessions SET expires_at = $1, refreshed_at = $2 WHERE id = $3")
            .bind(expires_at.millis())
            .bind(Timestamp::now().millis())
            .bind(id)
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session_by_token(&self, token_hash: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Deletes every session of the user except `keep` (a session id).
    pub async fn delete_sessions_of(&self, user_id: &str, keep: Option<&str>) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    // ---- lockout -----------------------------------------------------------------

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

    // ---- workspaces --------------------------------------------------------------

    /// Creates the user's personal workspace (role `owner`) unless setup was already
    /// finalized. The claim on `personal_workspace_id` is the first write of the
    /// transaction, so this happens exactly once even when two requests race.
    pub async fn finalize_setup(&self, user_id: &str, name: &str, slug: &str) -> sqlx::Result<()> {
        let now = Timestamp::now().millis();
        let ws = new_id();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE users SET personal_workspace_id = $1, updated_at = $2 \
             WHERE id = $3 AND personal_workspace_id IS NULL",
        )
        .bind(&ws)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(());
        }
        sqlx::query("INSERT INTO workspaces (id, name, slug, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&ws)
            .bind(name)
            .bind(slug)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) \
             VALUES ($1, $2, 'owner', $3)",
        )
        .bind(&ws)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn memberships(&self, user_id: &str) -> sqlx::Result<Vec<MembershipRow>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.slug, m.role FROM workspace_members m \
             JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, w.id",
        )
        .bind(user_id)
        .fetch_all(&*self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MembershipRow {
                    workspace_id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    slug: r.try_get("slug")?,
                    role: r.try_get("role")?,
                })
            })
            .collect()
    }

    // ---- social sign-in -----------------------------------------------------------

    pub async fn insert_oauth_state(&self, s: NewOauthState<'_>) -> sqlx::Result<()> {
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, provider, pkce_verifier, nonce, callback_url, \
             error_callback_url, link_user_id, expires_at, created_at, binding_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.state_hash)
        .bind(s.provider)
        .bind(s.pkce_verifier)
        .bind(s.nonce)
        .bind(s.callback_url)
        .bind(s.error_callback_url)
        .bind(s.link_user_id)
        .bind(s.expires_at.millis())
        .bind(now.millis())
        .bind(s.binding_hash)
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Consumes a state of `provider` started by the browser holding `binding_hash`'s
    /// cookie, exactly once, if unexpired. A mismatch consumes nothing.
    pub async fn consume_oauth_state(
        &self,
        state_hash: &str,
        provider: &str,
        binding_hash: &str,
    ) -> sqlx::Result<Option<OauthStateRow>> {
        let now = Timestamp::now().millis();
        let row = sqlx::query(
            "UPDATE oauth_states SET consumed_at = $1 \
             WHERE state_hash = $2 AND provider = $3 AND binding_hash = $4 \
             AND consumed_at IS NULL AND expires_at > $1 \
             RETURNING pkce_verifier, nonce, callback_url, error_callback_url, link_user_id",
        )
        .bind(now)
        .bind(state_hash)
        .bind(provider)
        .bind(binding_hash)
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(OauthStateRow {
                pkce_verifier: r.try_get("pkce_verifier")?,
                nonce: r.try_get("nonce")?,
                callback_url: r.try_get("callback_url")?,
                error_callback_url: r.try_get("error_callback_url")?,
                link_user_id: r.try_get("link_user_id")?,
            })
        })
        .transpose()
    }

    /// The user a `(provider, subject)` identity is linked to.
    pub async fn linked_user(&self, provider: &str, subject: &str) -> sqlx::Result<Option<String>> {
        let row =
            sqlx::query("SELECT user_id FROM linked_accounts WHERE provider = $1 AND subject = $2")
                .bind(provider)
                .bind(subject)
                .fetch_optional(&*self.pool())
                .await?;
        row.map(|r| r.try_get("user_id")).transpose()
    }

    /// Links an identity; false when it is already linked (to anyone).
    pub async fn link(&self, user_id: &str, provider: &str, subject: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO linked_accounts (id, user_id, provider, subject, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, subject) DO NOTHING",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(provider)
        .bind(subject)
        .bind(Timestamp::now().millis())
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inserts a user from a provider's claims; `None` when the email is taken.
    pub async fn insert_social_user(
        &self,
        email: &str,
        name: &str,
        image: Option<&str>,
        verified: bool,
    ) -> sqlx::Result<Option<String>> {
        let id = new_id();
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "INSERT INTO users (id, email, name, email_verified, image, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(email)
        .bind(name)
        .bind(i64::from(verified))
        .bind(image)
        .bind(now)
        .execute(&*self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(id))
    }

    /// Marks a user verified because a provider asserted the email. With
    /// `drop_signup_credentials` (an account someone signed up for but never
    /// verified), the password and every outstanding verification link are removed:
    /// whoever typed them has not proven they own the email (account pre-hijacking).
    pub async fn verify_by_provider(
        &self,
        user_id: &str,
        drop_signup_credentials: bool,
    ) -> sqlx::Result<()> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE users SET email_verified = 1, updated_at = $1, \
             password_hash = CASE WHEN $2 = 1 THEN NULL ELSE password_hash END WHERE id = $3",
        )
        .bind(now)
        .bind(i64::from(drop_signup_credentials))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'verify-email' AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    // ---- linked accounts and second factors ----------------------------------------

    pub async fn linked_accounts(&self, user_id: &str) -> sqlx::Result<Vec<LinkedRow>> {
        let rows = sqlx::query(
            "SELECT provider, subject, created_at FROM linked_accounts \
             WHERE user_id = $1 ORDER BY created_at, provider",
        )
        .bind(user_id)
        .fetch_all(&*self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkedRow {
                    provider: r.try_get("provider")?,
                    subject: r.try_get("subject")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Removes linked identities of `provider` (one subject, or all); the count removed.
    pub async fn unlink(
        &self,
        user_id: &str,
        provider: &str,
        subject: Option<&str>,
    ) -> sqlx::Result<u64> {
        let done = match subject {
            Some(s) => sqlx::query(
                "DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2 AND subject = $3",
            )
            .bind(user_id)
            .bind(provider)
            .bind(s)
            .execute(&*self.pool())
            .await?,
            None => {
                sqlx::query("DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2")
                    .bind(user_id)
                    .bind(provider)
                    .execute(&*self.pool())
                    .await?
            }
        };
        Ok(done.rows_affected())
    }

    /// Enabled second-factor methods of the user.
    pub async fn two_factor_methods(&self, user_id: &str) -> sqlx::Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT method FROM two_factor_methods \
             WHERE user_id = $1 AND enabled = 1 ORDER BY method",
        )
        .bind(user_id)
        .fetch_all(&*self.pool())
        .await?;
        rows.iter().map(|r| r.try_get("method")).collect()
    }
}

/// Consumes one token inside a transaction: a single conditional UPDATE, so only one
/// of several concurrent uses can succeed.
async fn consume_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> sqlx::Result<Option<TokenRow>> {
    let row = sqlx::query(
        "UPDATE one_time_tokens SET consumed_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND consumed_at IS NULL AND expires_at > $1 \
         RETURNING id, user_id, password_hash, name, callback_url, signup_request",
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            password_hash: r.try_get("password_hash")?,
            name: r.try_get("name")?,
            callback_url: r.try_get("callback_url")?,
            signup_request: r.try_get("signup_request")?,
        })
    })
    .transpose()
}

mod sqlite_read {
    //! The session check's in-thread SQLite read, and what each thread remembers.
    //!
    //! Every SQLite read transaction takes and drops a POSIX lock on the WAL index
    //! under a mutex that all connections of the process share: with two threads
    //! checking sessions, those two `fcntl` calls and the contention on that mutex
    //! were a third of a session check's CPU. So each thread remembers the sessions
    //! it read, keyed by token hash, and answers from memory while nothing can have
    //! changed them:
    //! - latch writes only through its pool, and any use of the pool moves the
    //!   database's write generation (before and after), which every latch process on
    //!   the same file shares (`generation.rs`): an answer read under an older
    //!   generation is read again, so a logout, a password change or a revocation by
    //!   any latch instance is seen at once;
    //! - a write by another program (an operator's `sqlite3` shell) is seen within
    //!   [`FRESH_FOR`];
    //! - expiry is checked against the clock on every answer.
    //!
    //! Remembered answers are bounded per thread and hold only what the database
    //! holds (token hashes, never tokens).

    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::{Arc, Weak};
    use std::time::{Duration, Instant};

    use rusqlite::{Connection, OpenFlags, OptionalExtension};

    use super::{Generation, SESSION_BY_TOKEN, SessionRow, UserRow};
    use crate::domain::Timestamp;

    /// How long an answer may be reused when latch itself wrote nothing meanwhile.
    pub const FRESH_FOR: Duration = Duration::from_secs(1);
    /// Answers remembered per thread and store; when full, the thread starts over.
    const MAX_REMEMBERED: usize = 4096;

    struct Remembered {
        rows: (SessionRow, UserRow),
        generation: u64,
        read_at: Instant,
    }

    /// One store's connection and remembered answers in one thread.
    struct Reader {
        /// The store's file name; weak, so a dropped store's reader can be noticed.
        file: Weak<PathBuf>,
        conn: Connection,
        remembered: HashMap<String, Remembered>,
    }

    thread_local! {
        /// Entries are keyed by the store's `Arc` of the file name (pointer equality:
        /// no path hashing on the hot path); the `Weak` held here keeps the address
        /// from being reused by another store.
        static READERS: RefCell<Vec<Reader>> = const { RefCell::new(Vec::new()) };
    }

    pub fn session_by_token(
        file: &Arc<PathBuf>,
        generation: &Generation,
        token_hash: &str,
        now: i64,
    ) -> rusqlite::Result<Option<(SessionRow, UserRow)>> {
        // Read before the database: a write that lands after this load moves the
        // generation past it, so what is read now is never trusted beyond that write.
        let current = generation.load();
        READERS.with(|cell| {
            let mut readers = cell.borrow_mut();
            let at = match readers
                .iter()
                .position(|r| std::ptr::eq(r.file.as_ptr(), Arc::as_ptr(file)))
            {
                Some(i) => i,
                None => {
                    // Readers of stores that are gone are closed first.
                    readers.retain(|r| r.file.strong_count() > 0);
                    let conn = Connection::open_with_flags(
                        file.as_path(),
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    conn.busy_timeout(Duration::from_secs(10))?;
                    readers.push(Reader {
                        file: Arc::downgrade(file),
                        conn,
                        remembered: HashMap::new(),
                    });
                    readers.len() - 1
                }
            };
            let reader = &mut readers[at];
            if let Some(r) = reader.remembered.get(token_hash)
                && r.generation == current
                && r.read_at.elapsed() < FRESH_FOR
            {
                return Ok((r.rows.0.expires_at.millis() > now).then(|| r.rows.clone()));
            }
            let rows = read(&reader.conn, token_hash, now)?;
            match &rows {
                Some(rows) => {
                    if reader.remembered.len() >= MAX_REMEMBERED {
                        reader.remembered.clear();
                    }
                    reader.remembered.insert(
                        token_hash.to_owned(),
                        Remembered {
                            rows: rows.clone(),
                            generation: current,
                            read_at: Instant::now(),
                        },
                    );
                }
                None => {
                    reader.remembered.remove(token_hash);
                }
            }
            Ok(rows)
        })
    }

    fn read(
        conn: &Connection,
        token_hash: &str,
        now: i64,
    ) -> rusqlite::Result<Option<(SessionRow, UserRow)>> {
        let mut stmt = conn.prepare_cached(SESSION_BY_TOKEN)?;
        stmt.query_row((token_hash, now), |r| {
            // Columns by position (see SESSION_BY_TOKEN): no name lookups.
            Ok((
                SessionRow {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    expires_at: Timestamp(r.get(2)?),
                    max_expires_at: Timestamp(r.get(3)?),
                    refreshed_at: Timestamp(r.get(4)?),
                    persistent: r.get::<_, i64>(5)? != 0,
                    ip_address: r.get(6)?,
                    user_agent: r.get(7)?,
                    created_at: Timestamp(r.get(8)?),
                },
                UserRow {
                    id: r.get(9)?,
                    email: r.get(10)?,
                    name: r.get(11)?,
                    email_verified: r.get::<_, i64>(12)? != 0,
                    image: r.get(13)?,
                    password_hash: r.get(14)?,
                    personal_workspace_id: r.get(15)?,
                    created_at: Timestamp(r.get(16)?),
                    updated_at: Timestamp(r.get(17)?),
                },
            ))
        })
        .optional()
    }
}

/// The database file of a `sqlite://path?…` URL (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.contains(":memory:") || query.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// The folder of a `sqlite://path?…` URL, when it names a file in a folder.
fn sqlite_parent_dir(url: &str) -> Option<std::path::PathBuf> {
    sqlite_file(url)?
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_folder_is_found() {
        assert_eq!(
            sqlite_parent_dir("sqlite://data/latch.db?mode=rwc"),
            Some("data".into())
        );
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_parent_dir("sqlite://latch.db"), None);
        assert_eq!(
            sqlite_file("sqlite://data/latch.db?mode=rwc"),
            Some("data/latch.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
    }
}
