//! Forgotten, reset, changed and first passwords.

use super::*;

#[derive(Default)]
pub struct PasswordsMutation;

#[Object]
impl PasswordsMutation {
    /// Mails a password reset link when the account exists (same answer either way).
    async fn forget_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::ForgetPassword,
    ) -> GqlResult<StatusResult> {
        state(ctx)
            .forget_password(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Sets a new password from a reset token.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::ResetPassword,
    ) -> GqlResult<StatusResult> {
        state(ctx)
            .reset_password(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Changes the signed-in user's password.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::ChangePassword,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .change_password(&p, input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Gives a password to an account that has none.
    async fn set_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::SetPassword,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .set_password(&p, input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }
}
