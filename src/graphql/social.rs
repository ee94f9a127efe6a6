//! Linked sign-in methods and social sign-in.

use super::*;
use crate::service::commands::SocialStart;

#[derive(Default)]
pub struct LinkedQuery;

#[Object]
impl LinkedQuery {
    /// Every way the user can sign in.
    async fn linked_accounts(&self, ctx: &Context<'_>) -> GqlResult<Vec<LinkedAccount>> {
        let p = principal(ctx).await?;
        state(ctx)
            .linked_accounts(&p)
            .await
            .map(|l| l.into_iter().map(LinkedAccount::from).collect())
            .map_err(gql)
    }

    /// Whether a second factor is enabled, and which.
    async fn two_factor_status(&self, ctx: &Context<'_>) -> GqlResult<TwoFactorStatus> {
        let p = principal(ctx).await?;
        state(ctx)
            .two_factor_status(&p)
            .await
            .map(Into::into)
            .map_err(gql)
    }
}

#[derive(Default)]
pub struct SocialMutation;

#[Object]
impl SocialMutation {
    /// Starts a social sign-in: the provider's authorization URL to send the browser to.
    async fn social_sign_in(
        &self,
        ctx: &Context<'_>,
        input: inputs::SocialSignIn,
    ) -> GqlResult<SocialUrl> {
        start_flow(ctx, input.into(), None).await
    }

    /// Starts linking a provider to the signed-in user.
    async fn link_social(
        &self,
        ctx: &Context<'_>,
        input: inputs::LinkSocial,
    ) -> GqlResult<SocialUrl> {
        let p = principal(ctx).await?;
        start_flow(ctx, input.into(), Some(&p)).await
    }

    /// Removes a way to sign in, never the last one.
    async fn unlink_provider(
        &self,
        ctx: &Context<'_>,
        input: inputs::UnlinkProvider,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .unlink_provider(&p, input.into())
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }
}

/// Starts a social flow for either mutation: the provider's URL, and the `oauth_state`
/// cookie that binds the flow to this browser.
async fn start_flow(
    ctx: &Context<'_>,
    start: SocialStart,
    link_to: Option<&Principal>,
) -> GqlResult<SocialUrl> {
    let st = state(ctx);
    let start = st
        .social_start(start, link_to, &request(ctx).meta)
        .await
        .map_err(gql)?;
    ctx.append_http_header(
        header::SET_COOKIE,
        oauth_state_cookie(st.config(), &start.binding),
    );
    Ok(SocialUrl {
        url: start.url.into(),
    })
}
