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
    /// Signs in with email and password; sets the session cookie.
    async fn sign_in_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::SignInEmail,
    ) -> GqlResult<SignInResult> {
        let s = state(ctx)
            .sign_in(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_session_cookie(ctx, &s);
        Ok(SignInResult::from(&s))
    }

    /// Deletes the current session and clears the cookie; idempotent.
    async fn logout(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let st = state(ctx);
        st.logout(request(ctx).token.as_deref())
            .await
            .map_err(gql)?;
        for cookie in clear_sign_in_cookies(st.config()) {
            ctx.append_http_header(header::SET_COOKIE, cookie);
        }
        Ok(true)
    }
}
