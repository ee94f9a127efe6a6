//! Account self-service: profile, email change, deletion (docs/api.md §11).

use super::tokens::consume_in;
use super::*;

/// Outcome of following an email-change link.
pub enum EmailChanged {
    /// Changed; the address the account had before.
    Done { user_id: UserId, old_email: String },
    /// A verified account holds the address: nothing changed, the link is unused.
    Taken,
    /// The link is unknown, used, voided or expired.
    Invalid,
}

/// An email-change link to store.
pub struct NewEmailChange<'a> {
    pub user_id: &'a UserId,
    pub token_hash: &'a TokenHash,
    pub new_email: &'a str,
    pub callback_url: Option<&'a str>,
    /// When the request was made: of two requests, the later one's link wins.
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Store {
    /// Sets the profile fields that are given (`image: Some(None)` clears it), under
    /// the user's row lock so two updates of different fields both land; `updated_at`
    /// moves only when a value changes.
    pub async fn update_profile(
        &self,
        user_id: &UserId,
        name: Option<&str>,
        image: Option<Option<&str>>,
    ) -> sqlx::Result<()> {
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        lock_user_row(&mut tx, user_id).await?;
        let Some(row) = sqlx::query("SELECT name, image FROM users WHERE id = $1")
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return tx.rollback().await;
        };
        let (old_name, old_image): (String, Option<String>) =
            (row.try_get("name")?, row.try_get("image")?);
        let new_name = name.unwrap_or(&old_name);
        let new_image = image.unwrap_or(old_image.as_deref());
        if new_name == old_name && new_image == old_image.as_deref() {
            return tx.rollback().await;
        }
        sqlx::query("UPDATE users SET name = $1, image = $2, updated_at = $3 WHERE id = $4")
            .bind(new_name)
            .bind(new_image)
            .bind(Timestamp::now().millis())
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Stores the email-change link of a request made at `link.requested_at`, voiding
    /// the links of older requests; nothing when a newer request's link is already
    /// stored (requests are finished in the background, in any order). Whether the
    /// link was stored.
    pub async fn store_email_change_link(&self, link: NewEmailChange<'_>) -> sqlx::Result<bool> {
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        lock_user_row(&mut tx, link.user_id).await?;
        let at = link.requested_at.millis();
        let newer: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM one_time_tokens WHERE user_id = $1 \
             AND purpose = 'change-email' AND created_at > $2",
        )
        .bind(link.user_id.as_str())
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        if newer > 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 WHERE user_id = $2 \
             AND purpose = 'change-email' AND consumed_at IS NULL",
        )
        .bind(Timestamp::now().millis())
        .bind(link.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO one_time_tokens \
             (id, token_hash, user_id, purpose, callback_url, expires_at, created_at, new_email) \
             VALUES ($1, $2, $3, 'change-email', $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(link.token_hash.as_str())
        .bind(link.user_id.as_str())
        .bind(link.callback_url)
        .bind(link.expires_at.millis())
        .bind(at)
        .bind(link.new_email)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The verified account that has this address, if any.
    pub async fn verified_owner_of(&self, email: &str) -> sqlx::Result<Option<UserRow>> {
        Ok(self
            .user_by_email(email)
            .await?
            .filter(|u| u.email_verified))
    }

    /// Follows an email-change link in one transaction: the address is re-checked
    /// inside it (a verified holder: nothing changes; an unverified one is deleted with
    /// its links), then the email is changed and verified, the link consumed and the
    /// old address's reset links voided. Of concurrent confirmations for one address,
    /// the unique index lets one win; the others answer `Taken`.
    pub async fn confirm_email_change(&self, token_hash: &TokenHash) -> sqlx::Result<EmailChanged> {
        let now = Timestamp::now().millis();
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        let Some(token) = consume_in(&mut tx, token_hash, Purpose::ChangeEmail, now).await? else {
            tx.rollback().await?;
            return Ok(EmailChanged::Invalid);
        };
        let Some(new_email) = token.new_email else {
            tx.rollback().await?;
            return Ok(EmailChanged::Invalid);
        };
        let holder =
            sqlx::query("SELECT id, email_verified FROM users WHERE email = $1 AND id <> $2")
                .bind(&new_email)
                .bind(token.user_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(h) = holder {
            if h.try_get::<i64, _>("email_verified")? != 0 {
                tx.rollback().await?;
                return Ok(EmailChanged::Taken);
            }
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(h.try_get::<String, _>("id")?)
                .execute(&mut *tx)
                .await?;
        }
        let old_email: String = sqlx::query("SELECT email FROM users WHERE id = $1")
            .bind(token.user_id.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("email")?;
        let changed = sqlx::query(
            "UPDATE users SET email = $1, email_verified = 1, updated_at = $2 WHERE id = $3",
        )
        .bind(&new_email)
        .bind(now)
        .bind(token.user_id.as_str())
        .execute(&mut *tx)
        .await;
        if let Err(e) = changed {
            tx.rollback().await?;
            return match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => Ok(EmailChanged::Taken),
                _ => Err(e),
            };
        }
        sqlx::query(
            "UPDATE one_time_tokens SET consumed_at = $1 \
             WHERE user_id = $2 AND purpose = 'reset-password' AND consumed_at IS NULL",
        )
        .bind(now)
        .bind(token.user_id.as_str())
        .execute(&mut *tx)
        .await?;
        match tx.commit().await {
            Ok(()) => Ok(EmailChanged::Done {
                user_id: token.user_id,
                old_email,
            }),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(EmailChanged::Taken),
            Err(e) => Err(e),
        }
    }

    /// Deletes the user and everything of theirs in one transaction. A workspace whose
    /// only member was the user goes too; one the user was the last owner of passes to
    /// its longest-standing admin, or failing one its longest-standing member. False
    /// when the user was already gone (a concurrent deletion won).
    pub async fn delete_user(&self, user_id: &UserId) -> sqlx::Result<bool> {
        let pool = self.pool();
        let mut tx = pool.begin().await?;
        if lock_user_row(&mut tx, user_id).await? == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        // The user's workspaces too: two members leaving one workspace at once are
        // serialized, so the second sees the first gone (and deletes an empty workspace
        // rather than leaving it without members).
        // One at a time, in id order: two deletions sharing several workspaces take
        // their locks in the same order and cannot deadlock.
        let mut ids: Vec<String> =
            sqlx::query_scalar("SELECT workspace_id FROM workspace_members WHERE user_id = $1")
                .bind(user_id.as_str())
                .fetch_all(&mut *tx)
                .await?;
        ids.sort();
        for id in &ids {
            sqlx::query("UPDATE workspaces SET name = name WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let email: Option<String> = sqlx::query("SELECT email FROM users WHERE id = $1")
            .bind(user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("email"))
            .transpose()?;
        let Some(email) = email else {
            tx.rollback().await?;
            return Ok(false);
        };
        let memberships = sqlx::query(
            "SELECT m.workspace_id, m.role, \
             (SELECT COUNT(*) FROM workspace_members o WHERE o.workspace_id = m.workspace_id \
              AND o.user_id <> m.user_id) AS others, \
             (SELECT COUNT(*) FROM workspace_members o WHERE o.workspace_id = m.workspace_id \
              AND o.user_id <> m.user_id AND o.role = 'owner') AS other_owners \
             FROM workspace_members m WHERE m.user_id = $1",
        )
        .bind(user_id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        for m in memberships {
            let ws: String = m.try_get("workspace_id")?;
            let others: i64 = m.try_get("others")?;
            let other_owners: i64 = m.try_get("other_owners")?;
            let role: String = m.try_get("role")?;
            if others == 0 {
                sqlx::query("DELETE FROM workspaces WHERE id = $1")
                    .bind(&ws)
                    .execute(&mut *tx)
                    .await?;
            } else if role == "owner" && other_owners == 0 {
                let heir: String = sqlx::query(
                    "SELECT user_id FROM workspace_members WHERE workspace_id = $1 \
                     AND user_id <> $2 \
                     ORDER BY CASE WHEN role = 'admin' THEN 0 ELSE 1 END, created_at, user_id \
                     LIMIT 1",
                )
                .bind(&ws)
                .bind(user_id.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_get("user_id")?;
                sqlx::query(
                    "UPDATE workspace_members SET role = 'owner' \
                     WHERE workspace_id = $1 AND user_id = $2",
                )
                .bind(&ws)
                .bind(&heir)
                .execute(&mut *tx)
                .await?;
            }
        }
        // Sessions, links, the email log, memberships, linked identities, passkeys,
        // second factors and link flows go with the user (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE email = $1")
            .bind(&email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
