//! The session check's and the user's columns, and the one mapping of each to its
//! row, shared by the sqlx reads and the in-thread SQLite read (`sqlite_read`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SessionRow, UserRow};
use crate::domain::{SessionId, Timestamp, UserId};

/// A user's columns: whether a password is set, never the hash itself (see
/// [`super::Store::password_hash`]), so no row held in memory carries one.
pub(super) const USER_COLUMNS: &str = "id, email, name, email_verified, image, \
     CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, \
     personal_workspace_id, created_at, updated_at";

/// The session check: one indexed read of the session and its user. The session's
/// columns come first, then the user's in the order of [`USER_COLUMNS`].
pub(super) const SESSION_BY_TOKEN: &str = "SELECT s.id AS s_id, s.user_id, s.expires_at, \
     s.max_expires_at, s.refreshed_at, s.persistent, s.ip_address, s.user_agent, \
     s.created_at AS s_created_at, s.authenticated_at, s.last_active_at, s.last_ip_address, \
     s.auth_methods, \
     u.id, u.email, u.name, u.email_verified, u.image, \
     CAST(CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, \
     u.personal_workspace_id, \
     u.created_at, u.updated_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2";

/// Where the user's columns start in [`SESSION_BY_TOKEN`].
const SESSION_COLUMN_COUNT: usize = 13;

/// A result row read by column position, whichever driver read it.
pub(super) trait Columns {
    type Error;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
}

impl Columns for AnyRow {
    type Error = sqlx::Error;
    fn text(&self, i: usize) -> sqlx::Result<String> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> sqlx::Result<Option<String>> {
        self.try_get(i)
    }
    fn int(&self, i: usize) -> sqlx::Result<i64> {
        self.try_get(i)
    }
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
}

/// Session columns in the order [`session_check`] reads them (for list queries).
pub(super) const SESSION_COLUMNS: &str = "id, user_id, expires_at, max_expires_at, \
     refreshed_at, persistent, ip_address, user_agent, created_at, authenticated_at, \
     last_active_at, last_ip_address, auth_methods";

/// A session from [`SESSION_COLUMNS`] (the first columns of [`SESSION_BY_TOKEN`]).
pub(super) fn session_at<C: Columns>(r: &C) -> Result<SessionRow, C::Error> {
    Ok(SessionRow {
        id: SessionId::new(r.text(0)?),
        user_id: UserId::new(r.text(1)?),
        expires_at: Timestamp(r.int(2)?),
        max_expires_at: Timestamp(r.int(3)?),
        refreshed_at: Timestamp(r.int(4)?),
        persistent: r.int(5)? != 0,
        ip_address: r.opt_text(6)?,
        user_agent: r.opt_text(7)?,
        created_at: Timestamp(r.int(8)?),
        authenticated_at: Timestamp(r.int(9)?),
        last_active_at: Timestamp(r.int(10)?),
        last_ip_address: r.opt_text(11)?,
        auth_methods: split_methods(&r.text(12)?),
    })
}

/// How a session was established, as stored: comma-separated.
pub(super) fn join_methods(methods: &[String]) -> String {
    methods.join(",")
}

fn split_methods(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

/// A user from [`USER_COLUMNS`] starting at column `at`.
pub(super) fn user_at<C: Columns>(r: &C, at: usize) -> Result<UserRow, C::Error> {
    Ok(UserRow {
        id: UserId::new(r.text(at)?),
        email: r.text(at + 1)?,
        name: r.text(at + 2)?,
        email_verified: r.int(at + 3)? != 0,
        image: r.opt_text(at + 4)?,
        has_password: r.int(at + 5)? != 0,
        personal_workspace_id: r.opt_text(at + 6)?,
        created_at: Timestamp(r.int(at + 7)?),
        updated_at: Timestamp(r.int(at + 8)?),
    })
}

/// A user row of a `SELECT USER_COLUMNS` query.
pub(super) fn user_row(r: &AnyRow) -> sqlx::Result<UserRow> {
    user_at(r, 0)
}

/// The session and its user, from a [`SESSION_BY_TOKEN`] row.
pub(super) fn session_check<C: Columns>(r: &C) -> Result<(SessionRow, UserRow), C::Error> {
    let session = session_at(r)?;
    Ok((session, user_at(r, SESSION_COLUMN_COUNT)?))
}
