//! Passkeys (docs/api.md §10): credentials, the user's WebAuthn handle, ceremonies
//! under way, and the last-method guard (§10.3) that removal of any sign-in method
//! goes through.

use super::*;

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: String,
    /// base64url, as the authenticator names it.
    pub credential_id: String,
    pub name: String,
    pub backed_up: bool,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A passkey to store.
pub struct NewPasskey<'a> {
    pub user_id: &'a UserId,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub sign_count: i64,
    pub backed_up: bool,
}

/// What storing a passkey did.
pub enum PasskeyInsert {
    Stored(PasskeyRow),
    /// The credential id is registered already (to anyone).
    Duplicate,
    /// The user holds the most passkeys allowed.
    LimitReached,
}

/// A ceremony to keep.
pub struct NewCeremony<'a> {
    pub kind: &'a str,
    pub session_id: Option<&'a SessionId>,
    pub user_id: Option<&'a UserId>,
    pub state: &'a str,
    pub expires_at: Timestamp,
}

/// A ceremony as taken from the database.
pub struct TakenCeremony {
    pub kind: String,
    pub state: String,
    pub expires_at: Timestamp,
}

/// A sign-in method to remove (§10.3).
pub enum MethodToRemove<'a> {
    Password,
    Social {
        provider: &'a str,
        subject: Option<&'a str>,
    },
    Passkey(&'a str),
}

/// What removing a sign-in method did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NotFound,
    /// It was the user's last way to sign in: nothing changed.
    LastMethod,
}

/// Everything but the stored credential, which only a sign-in reads.
const PASSKEY_COLUMNS: &str = "id, credential_id, name, backed_up, created_at, last_used_at";

fn passkey_row(r: &sqlx::any::AnyRow) -> sqlx::Result<PasskeyRow> {
    Ok(PasskeyRow {
        id: r.try_get("id")?,
        credential_id: r.try_get("credential_id")?,
        name: r.try_get("name")?,
        backed_up: r.try_get::<i64, _>("backed_up")? != 0,
        created_at: Timestamp(r.try_get("created_at")?),
        last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp),
    })
}

impl Store {
    /// The user's WebAuthn handle (hex), made now if the user has none; concurrent
    /// callers all get the one that was stored.
    pub async fn webauthn_handle(&self, user_id: &UserId, fresh: &str) -> sqlx::Result<String> {
        sqlx::query(
            "INSERT INTO webauthn_handles (user_id, handle) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id.as_str())
        .bind(fresh)
        .execute(&*self.pool())
        .await?;
        sqlx::query_scalar("SELECT handle FROM webauthn_handles WHERE user_id = $1")
            .bind(user_id.as_str())
            .fetch_one(&*self.pool())
            .await
    }

    /// The user a handle (hex) belongs to.
    pub async fn handle_owner(&self, handle: &str) -> sqlx::Result<Option<UserId>> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM webauthn_handles WHERE handle = $1")
                .bind(handle)
                .fetch_optional(&*self.pool())
                .await?;
        Ok(id.map(UserId::new))
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: &UserId) -> sqlx::Result<Vec<PasskeyRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(user_id.as_str())
        .fetch_all(&*self.pool())
        .await?;
        rows.iter().map(passkey_row).collect()
    }

    /// The passkey with this credential id (base64url) of the handle's user, with its
    /// stored credential (webauthn-rs JSON).
    pub async fn passkey_by_credential(
        &self,
        user_id: &UserId,
        credential_id: &str,
    ) -> sqlx::Result<Option<(PasskeyRow, String)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PASSKEY_COLUMNS}, credential FROM passkeys \
             WHERE user_id = $1 AND credential_id = $2"
        )))
        .bind(user_id.as_str())
        .bind(credential_id)
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| Ok((passkey_row(&r)?, r.try_get("credential")?)))
            .transpose()
    }

    /// Stores a verified passkey unless its credential id is taken or the user holds
    /// `max` already (checked under the user's row lock, so concurrent registrations
    /// cannot pass the limit together).
    pub async fn insert_passkey(&self, p: NewPasskey<'_>, max: u32) -> sqlx::Result<PasskeyInsert> {
        let mut tx = self.pool().begin().await?;
        lock_user_row(&mut tx, p.user_id).await?;
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(p.user_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if held >= i64::from(max) {
            tx.rollback().await?;
            return Ok(PasskeyInsert::LimitReached);
        }
        let now = Timestamp::now();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, sign_count, \
             backed_up, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (credential_id) DO NOTHING RETURNING {PASSKEY_COLUMNS}"
        )))
        .bind(new_id())
        .bind(p.user_id.as_str())
        .bind(p.credential_id)
        .bind(p.name)
        .bind(p.credential)
        .bind(p.sign_count)
        .bind(i64::from(p.backed_up))
        .bind(now.millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(PasskeyInsert::Duplicate);
        };
        let row = passkey_row(&row)?;
        tx.commit().await?;
        Ok(PasskeyInsert::Stored(row))
    }

    /// Records a sign-in with the passkey: the new credential state, count and backup
    /// flag, and the time. Only while the stored count is below the new one (or both
    /// are 0, a passkey that does not count): of two assertions carrying one non-zero
    /// count, at most one passes, whichever instance checks them.
    pub async fn record_passkey_use(
        &self,
        id: &str,
        credential: &str,
        sign_count: i64,
        backed_up: bool,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE passkeys SET credential = $1, sign_count = $2, backed_up = $3, \
             last_used_at = $4 WHERE id = $5 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
        )
        .bind(credential)
        .bind(sign_count)
        .bind(i64::from(backed_up))
        .bind(Timestamp::now().millis())
        .bind(id)
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Renames one of the user's passkeys; `None` when it is not theirs.
    pub async fn rename_passkey(
        &self,
        user_id: &UserId,
        id: &str,
        name: &str,
    ) -> sqlx::Result<Option<PasskeyRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3 \
             RETURNING {PASSKEY_COLUMNS}"
        )))
        .bind(name)
        .bind(id)
        .bind(user_id.as_str())
        .fetch_optional(&*self.pool())
        .await?;
        row.as_ref().map(passkey_row).transpose()
    }

    pub async fn insert_ceremony(&self, c: NewCeremony<'_>) -> sqlx::Result<String> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, kind, session_id, user_id, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(c.kind)
        .bind(c.session_id.map(SessionId::as_str))
        .bind(c.user_id.map(UserId::as_str))
        .bind(c.state)
        .bind(c.expires_at.millis())
        .execute(&*self.pool())
        .await?;
        Ok(id)
    }

    /// Takes a ceremony: one DELETE, so only one call ever gets it, whatever it then
    /// finds (§10: the first call that presents it consumes it, success or not). A
    /// call from another session than the one it is bound to neither gets nor consumes
    /// it. Its kind, state and end, for the caller to check.
    pub async fn take_ceremony(
        &self,
        id: &str,
        session: Option<&SessionId>,
    ) -> sqlx::Result<Option<TakenCeremony>> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id = $1 \
             AND (session_id IS NULL OR session_id = $2) \
             RETURNING kind, state, expires_at",
        )
        .bind(id)
        .bind(session.map(SessionId::as_str).unwrap_or_default())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(TakenCeremony {
                kind: r.try_get("kind")?,
                state: r.try_get("state")?,
                expires_at: Timestamp(r.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    /// Removes a sign-in method unless it is the user's last (§10.3): the count and the
    /// removal happen under the user's row lock, so two removals at once cannot leave
    /// the account without a way in.
    pub async fn remove_sign_in_method(
        &self,
        user_id: &UserId,
        what: MethodToRemove<'_>,
    ) -> sqlx::Result<Removal> {
        let uid = user_id.as_str();
        let mut tx = self.pool().begin().await?;
        lock_user_row(&mut tx, user_id).await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL) \
             + (SELECT COUNT(*) FROM linked_accounts WHERE user_id = $1) \
             + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)",
        )
        .bind(uid)
        .fetch_one(&mut *tx)
        .await?;
        let (count, delete, args): (&str, &str, Vec<&str>) = match what {
            MethodToRemove::Password => (
                "SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL",
                "UPDATE users SET password_hash = NULL WHERE id = $1",
                vec![uid],
            ),
            MethodToRemove::Social {
                provider,
                subject: None,
            } => (
                "SELECT COUNT(*) FROM linked_accounts WHERE user_id = $1 AND provider = $2",
                "DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2",
                vec![uid, provider],
            ),
            MethodToRemove::Social {
                provider,
                subject: Some(subject),
            } => (
                "SELECT COUNT(*) FROM linked_accounts WHERE user_id = $1 AND provider = $2 \
                 AND subject = $3",
                "DELETE FROM linked_accounts WHERE user_id = $1 AND provider = $2 \
                 AND subject = $3",
                vec![uid, provider, subject],
            ),
            MethodToRemove::Passkey(id) => (
                "SELECT COUNT(*) FROM passkeys WHERE user_id = $1 AND id = $2",
                "DELETE FROM passkeys WHERE user_id = $1 AND id = $2",
                vec![uid, id],
            ),
        };
        let mut q = sqlx::query_scalar::<_, i64>(count);
        for a in &args {
            q = q.bind(*a);
        }
        let matched = q.fetch_one(&mut *tx).await?;
        let outcome = if matched == 0 {
            Removal::NotFound
        } else if matched >= total {
            Removal::LastMethod
        } else {
            let mut q = sqlx::query(delete);
            for a in &args {
                q = q.bind(*a);
            }
            q.execute(&mut *tx).await?;
            Removal::Removed
        };
        if outcome == Removal::Removed {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }
}
