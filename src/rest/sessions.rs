//! Sign-in, the session, `me`, sign-out.

use super::*;
use crate::web::clear_sign_in_cookies;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(session))
        .routes(routes!(me))
        .routes(routes!(logout))
        .routes(routes!(sign_out))
}

async fn do_logout(
    state: &AppState,
    token: &PresentedToken,
    meta: &RequestMeta,
) -> AppResult<Response> {
    state.logout(token.as_deref(), meta).await?;
    Ok(with_cookies(
        Json(SuccessResult { success: true }),
        &clear_sign_in_cookies(state.config()),
    ))
}

#[utoipa::path(post, path = "/auth/sign-in/email", tag = "auth",
    request_body = inputs::SignInEmail,
    responses(
        (status = 200, description = "Signed in (sets session_token), or twoFactorRequired with a ticket (sets two_factor_ticket)", body = SignInResult),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorBody),
        (status = 403, description = "EMAIL_NOT_VERIFIED", body = ErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED, or TWO_FACTOR_LOCKED after the right password", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::SignInEmail>,
) -> AppResult<Response> {
    let outcome = state.sign_in(input, &meta).await?;
    let cookies = sign_in_cookies(state.config(), &outcome, false);
    Ok(with_cookies(Json(SignInResult::from(&outcome)), &cookies))
}

#[utoipa::path(get, path = "/auth/session", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody)))]
async fn session(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    Ok(with_cookies(Json(SessionInfo::from(p)), &cookies))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    Ok(with_cookies(Json(Me::from(state.me(&p).await?)), &cookies))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 200, description = "Session deleted and cookie cleared (idempotent)", body = SuccessResult),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    _: NoFields,
) -> AppResult<Response> {
    do_logout(&state, &token, &meta).await
}

#[utoipa::path(post, path = "/auth/sign-out", tag = "auth",
    responses((status = 200, description = "Same as /auth/logout", body = SuccessResult),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn sign_out(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    _: NoFields,
) -> AppResult<Response> {
    do_logout(&state, &token, &meta).await
}
