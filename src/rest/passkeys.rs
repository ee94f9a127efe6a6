//! Passkeys (docs/api.md §10): registration, sign-in, list, rename, delete. Every
//! route is 404 while passkeys are off.

use axum::http::request::Parts;

use super::*;
use crate::model::{PasskeyList, PasskeyOptions, PasskeyResult};

/// Passkeys are on: first among a passkey route's extractors, so while they are off
/// the route is 404 before its session or body is looked at (docs/api.md §10).
struct PasskeysOn;

impl axum::extract::FromRequestParts<AppState> for PasskeysOn {
    type Rejection = AppError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> AppResult<Self> {
        state.passkeys_on().map(|()| PasskeysOn)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_register_options))
        .routes(routes!(verify_registration))
        .routes(routes!(generate_authenticate_options))
        .routes(routes!(sign_in_passkey))
        .routes(routes!(list_user_passkeys))
        .routes(routes!(update_passkey))
        .routes(routes!(delete_passkey))
}

#[utoipa::path(post, path = "/auth/passkey/generate-register-options", tag = "passkeys",
    request_body = inputs::GeneratePasskeyRegistrationOptions,
    responses(
        (status = 200, description = "A registration ceremony (300 s) bound to this session", body = PasskeyOptions),
        (status = 401, description = "No session, INVALID_CREDENTIALS or INVALID_CODE", body = ErrorBody),
        (status = 403, description = "REAUTHENTICATION_REQUIRED", body = ErrorBody),
        (status = 404, description = "Passkeys are off", body = ErrorBody),
        (status = 409, description = "PASSKEY_LIMIT_REACHED", body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn generate_register_options(
    State(state): State<AppState>,
    _: PasskeysOn,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::GeneratePasskeyRegistrationOptions>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let ceremony = state.passkey_registration_options(&p, input, &meta).await?;
    Ok(with_cookies(Json(PasskeyOptions::from(ceremony)), &cookies))
}

#[utoipa::path(post, path = "/auth/passkey/verify-registration", tag = "passkeys",
    request_body = inputs::VerifyPasskeyRegistration,
    responses(
        (status = 200, description = "The passkey is registered", body = PasskeyResult),
        (status = 400, description = "INVALID_CEREMONY, PASSKEY_VERIFICATION_FAILED or BAD_REQUEST", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "PASSKEY_ALREADY_REGISTERED or PASSKEY_LIMIT_REACHED", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn verify_registration(
    State(state): State<AppState>,
    _: PasskeysOn,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::VerifyPasskeyRegistration>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let passkey = state.verify_passkey_registration(&p, input, &meta).await?;
    Ok(with_cookies(
        Json(PasskeyResult {
            passkey: passkey.into(),
        }),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/passkey/generate-authenticate-options", tag = "passkeys",
    responses(
        (status = 200, description = "A sign-in ceremony (300 s) bound to no session", body = PasskeyOptions),
        (status = 403, description = "BOT_CHECK_FAILED", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn generate_authenticate_options(
    State(state): State<AppState>,
    _: PasskeysOn,
    meta: RequestMeta,
    fields: NoFields,
) -> AppResult<Json<PasskeyOptions>> {
    let token = fields.turnstile_token.as_deref();
    let ceremony = state.passkey_authentication_options(&meta, token).await?;
    Ok(Json(ceremony.into()))
}

#[utoipa::path(post, path = "/auth/sign-in/passkey", tag = "passkeys",
    request_body = inputs::SignInPasskey,
    responses(
        (status = 200, description = "Signed in (sets session_token); never a second step", body = SignInResult),
        (status = 400, description = "INVALID_CEREMONY or BAD_REQUEST", body = ErrorBody),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn sign_in_passkey(
    State(state): State<AppState>,
    _: PasskeysOn,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::SignInPasskey>,
) -> AppResult<Response> {
    let outcome = state.sign_in_passkey(input, &meta).await?;
    let cookies = sign_in_cookies(state.config(), &outcome, false);
    Ok(with_cookies(Json(SignInResult::from(&outcome)), &cookies))
}

#[utoipa::path(get, path = "/auth/passkey/list-user-passkeys", tag = "passkeys",
    responses((status = 200, body = PasskeyList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_user_passkeys(
    State(state): State<AppState>,
    _: PasskeysOn,
    token: PresentedToken,
    meta: RequestMeta,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let passkeys = state.passkeys(&p).await?;
    Ok(with_cookies(
        Json(PasskeyList {
            passkeys: passkeys.into_iter().map(Into::into).collect(),
        }),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/passkey/update-passkey", tag = "passkeys",
    request_body = inputs::UpdatePasskey,
    responses(
        (status = 200, body = PasskeyResult),
        (status = 401, body = ErrorBody), (status = 404, description = "Not one of the caller's passkeys", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn update_passkey(
    State(state): State<AppState>,
    _: PasskeysOn,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::UpdatePasskey>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let passkey = state.rename_passkey(&p, input).await?;
    Ok(with_cookies(
        Json(PasskeyResult {
            passkey: passkey.into(),
        }),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/passkey/delete-passkey", tag = "passkeys",
    request_body = inputs::DeletePasskey,
    responses(
        (status = 200, body = StatusResult),
        (status = 401, body = ErrorBody),
        (status = 403, description = "LAST_LOGIN_METHOD", body = ErrorBody),
        (status = 404, description = "Not one of the caller's passkeys", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
async fn delete_passkey(
    State(state): State<AppState>,
    _: PasskeysOn,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::DeletePasskey>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    state.delete_passkey(&p, &input.id, &meta).await?;
    Ok(with_cookies(status_ok(), &cookies))
}
