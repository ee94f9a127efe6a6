//! Passkeys (docs/api.md §10): registration, sign-in, list, rename, delete. Every
//! field answers NOT_FOUND while passkeys are off.

use super::*;
use crate::model::{Passkey, PasskeyOptions, PasskeyResult, StatusResult};

#[derive(Default)]
pub struct PasskeysQuery;

#[Object]
impl PasskeysQuery {
    /// The user's passkeys, oldest first.
    async fn passkeys(&self, ctx: &Context<'_>) -> GqlResult<Vec<Passkey>> {
        state(ctx).passkeys_on().map_err(gql)?;
        let p = principal(ctx).await?;
        let rows = state(ctx).passkeys(&p).await.map_err(gql)?;
        Ok(rows.into_iter().map(Passkey::from).collect())
    }
}

#[derive(Default)]
pub struct PasskeyMutation;

#[Object]
impl PasskeyMutation {
    /// Starts a passkey registration bound to this session; needs a step-up.
    async fn generate_passkey_registration_options(
        &self,
        ctx: &Context<'_>,
        input: Option<inputs::GeneratePasskeyRegistrationOptions>,
    ) -> GqlResult<PasskeyOptions> {
        state(ctx).passkeys_on().map_err(gql)?;
        let p = principal(ctx).await?;
        state(ctx)
            .passkey_registration_options(&p, input.unwrap_or_default(), &request(ctx).meta)
            .await
            .map(PasskeyOptions::from)
            .map_err(gql)
    }

    /// Finishes the registration with the browser's `credential.toJSON()`.
    async fn verify_passkey_registration(
        &self,
        ctx: &Context<'_>,
        input: inputs::VerifyPasskeyRegistration,
    ) -> GqlResult<PasskeyResult> {
        state(ctx).passkeys_on().map_err(gql)?;
        let p = principal(ctx).await?;
        let passkey = state(ctx)
            .verify_passkey_registration(&p, input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(PasskeyResult {
            passkey: passkey.into(),
        })
    }

    /// Starts a passkey sign-in (or a passkey proof for `reauthenticate`): options for
    /// a sign-in button or conditional UI. A Turnstile token goes in the header.
    async fn generate_passkey_authentication_options(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<PasskeyOptions> {
        state(ctx).passkeys_on().map_err(gql)?;
        state(ctx)
            .passkey_authentication_options(&request(ctx).meta, None)
            .await
            .map(PasskeyOptions::from)
            .map_err(gql)
    }

    /// Signs in with a passkey's assertion: a session (cookie set), never a second step.
    async fn sign_in_passkey(
        &self,
        ctx: &Context<'_>,
        input: inputs::SignInPasskey,
    ) -> GqlResult<SignInResult> {
        state(ctx).passkeys_on().map_err(gql)?;
        let outcome = state(ctx)
            .sign_in_passkey(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_sign_in_cookies(ctx, &outcome, false);
        Ok(SignInResult::from(&outcome))
    }

    /// Renames one of the user's passkeys.
    async fn update_passkey(
        &self,
        ctx: &Context<'_>,
        input: inputs::UpdatePasskey,
    ) -> GqlResult<PasskeyResult> {
        state(ctx).passkeys_on().map_err(gql)?;
        let p = principal(ctx).await?;
        let passkey = state(ctx).rename_passkey(&p, input).await.map_err(gql)?;
        Ok(PasskeyResult {
            passkey: passkey.into(),
        })
    }

    /// Removes one of the user's passkeys, never the last way to sign in.
    async fn delete_passkey(
        &self,
        ctx: &Context<'_>,
        input: inputs::DeletePasskey,
    ) -> GqlResult<StatusResult> {
        state(ctx).passkeys_on().map_err(gql)?;
        let p = principal(ctx).await?;
        state(ctx)
            .delete_passkey(&p, &input.id, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }
}
