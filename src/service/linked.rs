//! The ways a user signs in: the password and linked providers; second factors.

use super::*;
use commands::Unlink;

impl AppState {
    /// Every way the user can sign in: `credential` when a password is set, then each
    /// linked provider identity.
    pub async fn linked_accounts(&self, p: &Principal) -> AppResult<Vec<LinkedMethod>> {
        let mut out = Vec::new();
        if p.user.has_password {
            out.push(LinkedMethod {
                provider: "credential".into(),
                account_id: p.user.id.to_string(),
                created_at: p.user.created_at,
            });
        }
        for l in self.inner.store.linked_accounts(&p.user.id).await? {
            out.push(LinkedMethod {
                provider: l.provider,
                account_id: l.subject,
                created_at: l.created_at,
            });
        }
        Ok(out)
    }

    /// Removes a way to sign in, never the last one.
    #[tracing::instrument(skip_all)]
    pub async fn unlink_provider(&self, p: &Principal, input: Unlink) -> AppResult<()> {
        let accounts = self.linked_accounts(p).await?;
        let matches = |a: &&LinkedMethod| {
            a.provider == input.provider
                && input
                    .account_id
                    .as_deref()
                    .is_none_or(|id| id == a.account_id)
        };
        let removed = accounts.iter().filter(matches).count();
        if removed == 0 {
            return Err(AppError::not_found(
                "This sign-in method is not linked to your account.",
            ));
        }
        if removed == accounts.len() {
            return Err(AppError::last_login_method());
        }
        let store = &self.inner.store;
        if input.provider == "credential" {
            store.set_password(&p.user.id, None).await?;
        } else {
            store
                .unlink(&p.user.id, &input.provider, input.account_id.as_deref())
                .await?;
        }
        Ok(())
    }
}
