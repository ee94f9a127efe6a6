//! Two-factor authentication (docs/api.md §8): status, enrollment, the sign-in step,
//! backup codes, disabling.

use super::*;
use crate::model::{BackupCodes, TotpConfirmed, TotpEnrollment};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(two_factor_status))
        .routes(routes!(enroll_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(verify_two_factor))
        .routes(routes!(generate_backup_codes))
        .routes(routes!(disable_two_factor))
}

#[utoipa::path(get, path = "/auth/two-factor/status", tag = "two-factor",
    responses((status = 200, body = TwoFactorStatus), (status = 401, body = ErrorBody)))]
async fn two_factor_status(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    Ok(with_cookies(
        Json(TwoFactorStatus::from(state.two_factor_status(&p).await?)),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/two-factor/totp/enroll", tag = "two-factor",
    request_body = inputs::EnrollTotp,
    responses(
        (status = 200, description = "A pending enrollment (10 minutes); the secret is never shown again", body = TotpEnrollment),
        (status = 401, description = "No session, INVALID_CREDENTIALS or INVALID_CODE", body = ErrorBody),
        (status = 403, description = "REAUTHENTICATION_REQUIRED", body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn enroll_totp(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::EnrollTotp>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let enrollment = state.enroll_totp(&p, input, &meta).await?;
    Ok(with_cookies(
        Json(TotpEnrollment::from(enrollment)),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/two-factor/totp/confirm", tag = "two-factor",
    request_body = inputs::ConfirmTotp,
    responses(
        (status = 200, description = "2FA on (backupCodes shown once), or the authenticator replaced (backupCodes null)", body = TotpConfirmed),
        (status = 400, description = "NO_PENDING_ENROLLMENT or BAD_REQUEST", body = ErrorBody),
        (status = 401, description = "No session, or INVALID_CODE", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn confirm_totp(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::ConfirmTotp>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let backup_codes = state.confirm_totp(&p, input, &meta).await?;
    Ok(with_cookies(
        Json(TotpConfirmed::from(backup_codes)),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/two-factor/verify", tag = "two-factor",
    request_body = inputs::VerifyTwoFactor,
    responses(
        (status = 200, description = "Signed in: sets session_token, clears two_factor_ticket (and sets trusted_device with trustDevice)", body = SignInResult),
        (status = 401, description = "INVALID_TICKET or INVALID_CODE", body = ErrorBody),
        (status = 423, description = "TWO_FACTOR_LOCKED", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn verify_two_factor(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::VerifyTwoFactor>,
) -> AppResult<Response> {
    let outcome = state.verify_two_factor(input, &meta).await?;
    let cookies = sign_in_cookies(state.config(), &outcome, true);
    Ok(with_cookies(Json(SignInResult::from(&outcome)), &cookies))
}

#[utoipa::path(post, path = "/auth/two-factor/generate-backup-codes", tag = "two-factor",
    request_body = inputs::GenerateBackupCodes,
    responses(
        (status = 200, description = "Ten new codes; every earlier one stopped working", body = BackupCodes),
        (status = 401, description = "No session, INVALID_CREDENTIALS or INVALID_CODE", body = ErrorBody),
        (status = 403, description = "REAUTHENTICATION_REQUIRED", body = ErrorBody),
        (status = 409, description = "TWO_FACTOR_NOT_ENABLED", body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn generate_backup_codes(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::GenerateBackupCodes>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let backup_codes = state.generate_backup_codes(&p, input, &meta).await?;
    Ok(with_cookies(Json(BackupCodes { backup_codes }), &cookies))
}

#[utoipa::path(post, path = "/auth/two-factor/disable", tag = "two-factor",
    request_body = inputs::DisableTwoFactor,
    responses(
        (status = 200, body = StatusResult),
        (status = 401, description = "No session, INVALID_CREDENTIALS or INVALID_CODE", body = ErrorBody),
        (status = 403, description = "REAUTHENTICATION_REQUIRED", body = ErrorBody),
        (status = 409, description = "TWO_FACTOR_NOT_ENABLED", body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn disable_two_factor(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::DisableTwoFactor>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    state.disable_two_factor(&p, input, &meta).await?;
    Ok(with_cookies(status_ok(), &cookies))
}
