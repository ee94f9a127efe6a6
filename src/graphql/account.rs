//! Step-up, session management and account self-service (docs/api.md §7, §9, §11).

use super::*;
use crate::model::{ActiveSession, Reauthenticated, RevokedSessions, SuccessResult, UserResult};
use crate::web::clear_account_cookies;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The user's unexpired sessions: the current one first, then by `lastActiveAt`,
    /// newest first; 100 at most.
    async fn sessions(&self, ctx: &Context<'_>) -> GqlResult<Vec<ActiveSession>> {
        let p = principal(ctx).await?;
        let sessions = state(ctx).list_sessions(&p).await.map_err(gql)?;
        Ok(sessions.into_iter().map(ActiveSession::from).collect())
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Checks the step-up proofs sent and does nothing else: the session is then fresh.
    async fn reauthenticate(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::Reauthenticate>,
    ) -> GqlResult<Reauthenticated> {
        let p = principal(ctx).await?;
        let fresh_until = state(ctx)
            .reauthenticate(&p, input.unwrap_or_default(), &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(Reauthenticated {
            status: true,
            fresh_until,
        })
    }

    /// Ends one of the caller's sessions; the caller's own acts as logout.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: inputs::RevokeSession,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        let st = state(ctx);
        if st
            .revoke_session(&p, &input.session_id, &request(ctx).meta)
            .await
            .map_err(gql)?
        {
            for cookie in clear_sign_in_cookies(st.config()) {
                ctx.append_http_header(header::SET_COOKIE, cookie);
            }
        }
        Ok(StatusResult { status: true })
    }

    /// Ends every other session of the caller.
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> GqlResult<RevokedSessions> {
        let p = principal(ctx).await?;
        let revoked = state(ctx)
            .revoke_other_sessions(&p, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(RevokedSessions {
            status: true,
            revoked,
        })
    }

    /// Changes the name and picture; a field left out keeps its value.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::UpdateUser>,
    ) -> GqlResult<UserResult> {
        let p = principal(ctx).await?;
        let update = input.unwrap_or_default().into_command().map_err(gql)?;
        let user = state(ctx).update_user(&p, update).await.map_err(gql)?;
        Ok(UserResult { user: user.into() })
    }

    /// Mails a confirmation link to the new address (step-up).
    async fn change_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::ChangeEmail,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .change_email(&p, input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Follows an email-change link: the account's address becomes the new one.
    async fn confirm_email_change(
        &self,
        ctx: &Context<'_>,
        input: inputs::ConfirmEmailChange,
    ) -> GqlResult<UserResult> {
        let c = state(ctx)
            .confirm_email_change(&input.token, None, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(UserResult {
            user: c.user.into(),
        })
    }

    /// Deletes the account and everything of it (step-up); clears the cookies.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::DeleteUser>,
    ) -> GqlResult<SuccessResult> {
        let p = principal(ctx).await?;
        let st = state(ctx);
        st.delete_user(&p, input.unwrap_or_default(), &request(ctx).meta)
            .await
            .map_err(gql)?;
        for cookie in clear_account_cookies(st.config()) {
            ctx.append_http_header(header::SET_COOKIE, cookie);
        }
        Ok(SuccessResult { success: true })
    }
}
