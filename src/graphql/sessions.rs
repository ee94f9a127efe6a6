//! Sign-in, the session, `me`, sign-out.

use super::*;

#[derive(Default)]
pub struct SessionsQuery;

#[Object]
impl SessionsQuery {
    /// The signed-in user, their workspaces and the active one.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Me> {
        let p = principal(ctx).await?;
        state(ctx).me(&p).await.map(Me::from).map_err(gql)
    }

    /// The current session and its user.
    async fn session(&self, ctx: &Context<'_>) -> GqlResult<SessionInfo> {
        let p = principal(ctx).await?;
        Ok(session_answer(p))
    }
}

/// The `session` field's answer for the caller. `fast.rs` answers the same field
/// without the executor through this function too: whatever this field must check or
/// add belongs here (or in `principal`, which both reach through `authenticate`).
pub(super) fn session_answer(p: Principal) -> SessionInfo {
    SessionInfo::from(p)
}

#[derive(Default)]
pub struct SessionsMutation;

#[Object]
impl SessionsMutation {
    /// Signs in with email and password: a session (cookie set), or the second step
    /// to take (`twoFactorRequired`, the ticket cookie set).
    async fn sign_in_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::SignInEmail,
    ) -> GqlResult<SignInResult> {
        let outcome = state(ctx)
            .sign_in(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_sign_in_cookies(ctx, &outcome, false);
        Ok(SignInResult::from(&outcome))
    }

    /// Deletes the current session and clears the cookie; idempotent.
    async fn logout(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let st = state(ctx);
        let req = request(ctx);
        st.logout(req.token.as_deref(), &req.meta)
            .await
            .map_err(gql)?;
        for cookie in clear_sign_in_cookies(st.config()) {
            ctx.append_http_header(header::SET_COOKIE, cookie);
        }
        Ok(true)
    }
}
