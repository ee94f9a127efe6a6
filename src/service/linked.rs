//! The ways a user signs in: the password and linked providers; second factors.

use super::*;
use crate::store::{MethodToRemove, Removal};
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
        let matches = |a: &LinkedMethod| {
            a.provider == input.provider
                && input
                    .account_id
                    .as_deref()
                    .is_none_or(|id| id == a.account_id)
        };
        if !accounts.iter().any(matches) {
            return Err(not_linked());
        }
        // The guard counts passkeys too, and runs under the user's row lock (§10.3).
        let what = if input.provider == "credential" {
            MethodToRemove::Password
        } else {
            MethodToRemove::Social {
                provider: &input.provider,
                subject: input.account_id.as_deref(),
            }
        };
        match self
            .inner
            .store
            .remove_sign_in_method(&p.user.id, what)
            .await?
        {
            Removal::Removed => {}
            Removal::NotFound => return Err(not_linked()),
            Removal::LastMethod => return Err(AppError::last_login_method()),
        }
        Ok(())
    }
}

fn not_linked() -> AppError {
    AppError::not_found("This sign-in method is not linked to your account.")
}
