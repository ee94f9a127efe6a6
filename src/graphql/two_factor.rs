//! Two-factor authentication (docs/api.md §8): enrollment, the sign-in step, backup
//! codes, disabling. `twoFactorStatus` is a field of `LinkedQuery`.

use super::*;
use crate::model::{BackupCodes, TotpConfirmed, TotpEnrollment};

#[derive(Default)]
pub struct TwoFactorMutation;

#[Object]
impl TwoFactorMutation {
    /// Starts (or restarts) a TOTP enrollment; needs a step-up (docs/api.md §7).
    async fn enroll_totp(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::EnrollTotp>,
    ) -> GqlResult<TotpEnrollment> {
        let p = principal(ctx).await?;
        state(ctx)
            .enroll_totp(&p, input.unwrap_or_default(), &request(ctx).meta)
            .await
            .map(TotpEnrollment::from)
            .map_err(gql)
    }

    /// Confirms the pending enrollment with its first code.
    async fn confirm_totp(
        &self,
        ctx: &Context<'_>,
        input: inputs::ConfirmTotp,
    ) -> GqlResult<TotpConfirmed> {
        let p = principal(ctx).await?;
        state(ctx)
            .confirm_totp(&p, input, &request(ctx).meta)
            .await
            .map(TotpConfirmed::from)
            .map_err(gql)
    }

    /// The second step of a sign-in: a TOTP or backup code for the ticket.
    async fn verify_two_factor(
        &self,
        ctx: &Context<'_>,
        input: inputs::VerifyTwoFactor,
    ) -> GqlResult<SignInResult> {
        let st = state(ctx);
        let outcome = st
            .verify_two_factor(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_sign_in_cookies(ctx, &outcome, true);
        Ok(SignInResult::from(&outcome))
    }

    /// Ten new backup codes; every earlier one stops working. Needs a step-up.
    async fn generate_backup_codes(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::GenerateBackupCodes>,
    ) -> GqlResult<BackupCodes> {
        let p = principal(ctx).await?;
        let backup_codes = state(ctx)
            .generate_backup_codes(&p, input.unwrap_or_default(), &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(BackupCodes { backup_codes })
    }

    /// Turns two-factor authentication off. Needs a step-up.
    async fn disable_two_factor(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::DisableTwoFactor>,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .disable_two_factor(&p, input.unwrap_or_default(), &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }
}
