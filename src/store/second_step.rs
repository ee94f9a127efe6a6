//! The second step of a sign-in (docs/api.md §8.3, §8.6): tickets, claimed by one
//! verify at a time, and trusted devices, rotated in one statement.

use super::*;

/// A sign-in waiting for its second step.
pub struct NewTicket<'a> {
    pub token_hash: &'a TokenHash,
    pub user_id: &'a UserId,
    pub persistent: bool,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub first_factor: &'a str,
    pub expires_at: Timestamp,
}

/// A claimed ticket: what the session it makes keeps from the sign-in.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub user_id: UserId,
    pub persistent: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub first_factor: String,
}

/// Rejected codes at which a ticket is void (§8.3 rule 6).
const TICKET_MAX_FAILURES: i64 = 5;

impl Store {
    pub async fn insert_ticket(&self, t: NewTicket<'_>) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO two_factor_tickets (token_hash, user_id, persistent, ip_address, \
             user_agent, first_factor, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.token_hash.as_str())
        .bind(t.user_id.as_str())
        .bind(i64::from(t.persistent))
        .bind(t.ip_address)
        .bind(t.user_agent)
        .bind(t.first_factor)
        .bind(t.expires_at.millis())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Claims an unexpired ticket that no verify holds, until `until`: while claimed,
    /// every other verify of it finds nothing (so attempts on one ticket never run side
    /// by side); a claim whose verify never finished lapses.
    pub async fn claim_ticket(
        &self,
        hash: &TokenHash,
        until: Timestamp,
    ) -> sqlx::Result<Option<TicketRow>> {
        let now = Timestamp::now();
        let row = sqlx::query(
            "UPDATE two_factor_tickets SET claimed_until = $3 \
             WHERE token_hash = $1 AND claimed_until <= $2 AND expires_at > $2 \
             RETURNING user_id, persistent, ip_address, user_agent, first_factor",
        )
        .bind(hash.as_str())
        .bind(now.millis())
        .bind(until.millis())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| {
            Ok(TicketRow {
                user_id: UserId::new(r.try_get("user_id")?),
                persistent: r.try_get::<i64, _>("persistent")? != 0,
                ip_address: r.try_get("ip_address")?,
                user_agent: r.try_get("user_agent")?,
                first_factor: r.try_get("first_factor")?,
            })
        })
        .transpose()
    }

    /// Gives a claimed ticket back; with `failed`, counts a rejected code against it,
    /// and the fifth voids it (the claim holds until the ticket is gone, so no other
    /// verify slips in between).
    pub async fn release_ticket(&self, hash: &TokenHash, failed: bool) -> sqlx::Result<()> {
        let released = sqlx::query(
            "UPDATE two_factor_tickets SET claimed_until = 0, failures = failures + $2 \
             WHERE token_hash = $1 AND failures + $2 < $3",
        )
        .bind(hash.as_str())
        .bind(i64::from(failed))
        .bind(TICKET_MAX_FAILURES)
        .execute(&*self.pool())
        .await?
        .rows_affected();
        if released == 0 {
            self.delete_ticket(hash).await?;
        }
        Ok(())
    }

    /// Ends a claimed ticket whose code was right; false when it was voided meanwhile
    /// (logout, a password reset, disable), and then no session may come of it.
    pub async fn delete_claimed_ticket(&self, hash: &TokenHash) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "DELETE FROM two_factor_tickets WHERE token_hash = $1 AND claimed_until > 0",
        )
        .bind(hash.as_str())
        .execute(&*self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Voids a ticket (logout).
    pub async fn delete_ticket(&self, hash: &TokenHash) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM two_factor_tickets WHERE token_hash = $1")
            .bind(hash.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    pub async fn insert_trusted_device(
        &self,
        hash: &TokenHash,
        user_id: &UserId,
        expires_at: Timestamp,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO trusted_devices (token_hash, user_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash.as_str())
        .bind(user_id.as_str())
        .bind(expires_at.millis())
        .bind(Timestamp::now().millis())
        .execute(&*self.pool())
        .await?;
        Ok(())
    }

    /// Rotates a valid trusted device of `user_id` to a new token with the same expiry
    /// (§8.6 rule 3); `None` for another user's, an expired or an unknown token.
    pub async fn rotate_trusted_device(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        user_id: &UserId,
    ) -> sqlx::Result<Option<Timestamp>> {
        let row = sqlx::query(
            "UPDATE trusted_devices SET token_hash = $2 \
             WHERE token_hash = $1 AND user_id = $3 AND expires_at > $4 RETURNING expires_at",
        )
        .bind(old.as_str())
        .bind(new.as_str())
        .bind(user_id.as_str())
        .bind(Timestamp::now().millis())
        .fetch_optional(&*self.pool())
        .await?;
        row.map(|r| r.try_get::<i64, _>("expires_at").map(Timestamp))
            .transpose()
    }

    /// Forgets one trusted device of the user (replaced by a new grant).
    pub async fn forget_trusted_device(
        &self,
        hash: &TokenHash,
        user_id: &UserId,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM trusted_devices WHERE token_hash = $1 AND user_id = $2")
            .bind(hash.as_str())
            .bind(user_id.as_str())
            .execute(&*self.pool())
            .await?;
        Ok(())
    }

    /// Forgets the user's trusted devices except the one `keep` names (this browser's).
    pub async fn forget_trusted_devices(
        &self,
        user_id: &UserId,
        keep: Option<&TokenHash>,
    ) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id.as_str())
            .bind(keep.map_or("", TokenHash::as_str))
            .execute(&*self.pool())
            .await?;
        Ok(())
    }
}
