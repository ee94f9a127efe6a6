//! Sign-up, email verification and resend.

use super::*;

#[derive(Default)]
pub struct SignUpMutation;

#[Object]
impl SignUpMutation {
    /// Creates an unverified account and mails a verification link.
    async fn sign_up_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::SignUpEmail,
    ) -> GqlResult<SignUpResult> {
        state(ctx)
            .sign_up(input, &request(ctx).meta)
            .await
            .map(SignUpResult::from)
            .map_err(gql)
    }
}

#[derive(Default)]
pub struct VerificationMutation;

#[Object]
impl VerificationMutation {
    /// Verifies the email with a token from a verification link and signs in.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::VerifyEmail,
    ) -> GqlResult<VerifyEmailResult> {
        let v = state(ctx)
            .verify_email(&input.token, None, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_session_cookie(ctx, &v.signed_in);
        Ok(VerifyEmailResult::from(&v.signed_in))
    }

    /// Mails a new verification link to an unverified account (same answer either way).
    async fn resend_verification(
        &self,
        ctx: &Context<'_>,
        input: inputs::ResendVerification,
    ) -> GqlResult<StatusResult> {
        state(ctx)
            .resend_verification(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }
}
