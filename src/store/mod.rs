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
use sqlx::Row;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use crate::domain::{SessionId, Timestamp, TokenHash, UserId};

mod account;
mod email_log;
mod generation;
mod key_check;
pub use account::{EmailChanged, NewEmailChange};
mod lockout;
mod passkeys;
mod pg_cache;
mod pg_listener;
mod pg_sync;
mod scale_out;
pub use passkeys::{
    MethodToRemove, NewCeremony, NewPasskey, PasskeyInsert, PasskeyRow, Removal, TakenCeremony,
};
use scale_out::PgCache;
mod pool;
mod purge;
mod rows;
mod second_step;
mod sessions;
mod social;
mod sqlite_read;
#[cfg(test)]
mod store_tests;
mod tokens;
mod two_factor;
pub use second_step::{NewTicket, TicketRow};
pub use two_factor::{CodeFailure, HARD_LOCK_FAILURES, NewBackupCode, TwoFactorRow};
mod users;
mod workspaces;

use generation::Generation;
pub use pool::used_pool;
use pool::{Pool, PoolUse};
use rows::{SESSION_BY_TOKEN, USER_COLUMNS, user_row};

/// Which database `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shared connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// The SQLite file, for the in-thread read of the session check.
    sqlite_file: Option<std::sync::Arc<std::path::PathBuf>>,
    /// PostgreSQL: the session checks remembered, kept honest by notifications.
    pg_cache: Option<PgCache>,
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// Whether a password is set (the hash itself is read only where it is compared).
    pub has_password: bool,
    pub personal_workspace_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A session as stored (never its token, only the token's hash).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: SessionId,
    pub user_id: UserId,
    pub expires_at: Timestamp,
    pub max_expires_at: Timestamp,
    pub refreshed_at: Timestamp,
    pub persistent: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    /// The last time a factor was proven in it: its sign-in or a step-up.
    pub authenticated_at: Timestamp,
    /// Its latest use, written at most once per `LATCH_SESSION_ACTIVITY_SECS`.
    pub last_active_at: Timestamp,
    pub last_ip_address: Option<String>,
    /// How it was established, in order (`password`, `oidc:<provider>`, …).
    pub auth_methods: Vec<String>,
}

/// A one-time token that was just consumed.
#[derive(Clone)]
pub struct TokenRow {
    pub id: String,
    pub user_id: UserId,
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub callback_url: Option<String>,
    pub signup_request: Option<String>,
    pub new_email: Option<String>,
}

/// A followed verification link.
#[derive(Debug, Clone)]
pub struct VerifiedLink {
    pub user_id: UserId,
    /// Whether the link's password became the account's (its request was the only
    /// outstanding one).
    pub password_applied: bool,
}

/// The purposes of one-time tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify-email",
            Purpose::ResetPassword => "reset-password",
            Purpose::ChangeEmail => "change-email",
        }
    }
}

/// A new one-time token.
pub struct NewToken<'a> {
    pub purpose: Purpose,
    pub user_id: &'a UserId,
    pub token_hash: &'a TokenHash,
    pub password_hash: Option<&'a str>,
    pub name: Option<&'a str>,
    pub callback_url: Option<&'a str>,
    /// change-email: the address the link confirms.
    pub new_email: Option<&'a str>,
    pub expires_at: Timestamp,
}

/// How many sign-up requests of one account stay outstanding (docs/api.md §4).
pub const MAX_OUTSTANDING_SIGNUPS: i64 = 5;

/// A verification link for a sign-up request (`request` from [`new_request_id`], or
/// the id of an earlier request when resending).
pub struct NewSignupLink<'a> {
    pub request: &'a str,
    pub user_id: &'a UserId,
    pub token_hash: &'a TokenHash,
    pub password_hash: Option<&'a str>,
    pub name: &'a str,
    pub callback_url: Option<&'a str>,
    pub expires_at: Timestamp,
}

/// The newest sign-up request of an account.
#[derive(Clone)]
pub struct SignupRequest {
    pub request: String,
    pub password_hash: Option<String>,
    pub name: Option<String>,
    pub callback_url: Option<String>,
}

/// A new session.
pub struct NewSession<'a> {
    pub token_hash: &'a TokenHash,
    pub user_id: &'a UserId,
    pub auth_methods: &'a [String],
    pub expires_at: Timestamp,
    pub max_expires_at: Timestamp,
    pub persistent: bool,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A new social sign-in state.
pub struct NewOauthState<'a> {
    pub state_hash: &'a TokenHash,
    /// SHA-256 of the `oauth_state` cookie that binds the flow to its browser.
    pub binding_hash: &'a TokenHash,
    pub provider: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    pub callback_url: Option<&'a str>,
    pub error_callback_url: Option<&'a str>,
    pub two_factor_callback_url: Option<&'a str>,
    pub link_user_id: Option<&'a UserId>,
    pub expires_at: Timestamp,
}

/// A consumed social sign-in state.
#[derive(Clone)]
pub struct OauthStateRow {
    pub pkce_verifier: String,
    pub nonce: String,
    pub callback_url: Option<String>,
    pub error_callback_url: Option<String>,
    pub two_factor_callback_url: Option<String>,
    pub link_user_id: Option<UserId>,
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

/// Takes the user's row for the rest of the transaction with a write that changes
/// nothing: on PostgreSQL a row lock that serializes the user's transactions; on SQLite
/// the write lock, taken before any read, so the transaction never has to upgrade a
/// read snapshot that another writer made stale (`SQLITE_BUSY_SNAPSHOT`).
async fn lock_user_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
) -> sqlx::Result<u64> {
    let done = sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
        .bind(user_id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A sign-up request id: time-ordered (UUIDv7, monotonic within the process), so
/// "newest" is the greatest id.
pub fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Store {
    /// The pool, lent for one statement or transaction (see [`pool::Pool`]).
    fn pool(&self) -> PoolUse<'_> {
        self.pool.lend()
    }

    /// Connects with the pool settings of `cfg`, creating the SQLite file and its
    /// folder when needed.
    pub async fn from_config(cfg: &crate::config::Config) -> anyhow::Result<Store> {
        Store::connect(
            cfg.database_url.expose(),
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
            pool: Pool::new(pool, generation),
            backend,
            sqlite_file,
            pg_cache: None,
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

    /// Closes the pool: every later query fails (used at shutdown and by tests).
    pub async fn close(&self) {
        self.stop_listening().await;
        self.pool.close().await;
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&*self.pool()).await.is_ok()
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

crate::debug_redacted!(TokenRow { id, user_id, name, callback_url, signup_request, new_email } hiding { password_hash });

crate::debug_redacted!(SignupRequest { request, name, callback_url } hiding { password_hash });

crate::debug_redacted!(OauthStateRow { callback_url, error_callback_url, two_factor_callback_url, link_user_id } hiding { pkce_verifier, nonce });
