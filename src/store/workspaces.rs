//! Workspaces: the personal workspace made at setup, memberships.

use super::*;

impl Store {
    /// Creates the user's personal workspace (role `owner`) unless setup was already
    /// finalized. The claim on `personal_workspace_id` is the first write of the
    /// transaction, so this happens exactly once even when two requests race.
    pub async fn finalize_setup(
        &self,
        user_id: &UserId,
        name: &str,
        slug: &str,
    ) -> sqlx::Result<()> {
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
        .bind(user_id.as_str())
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
        .bind(user_id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn memberships(&self, user_id: &UserId) -> sqlx::Result<Vec<MembershipRow>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, w.slug, m.role FROM workspace_members m \
             JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, w.id",
        )
        .bind(user_id.as_str())
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
}
