//! Forgotten, reset, changed and first passwords, and the built-in reset page.

use super::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forget_password))
        .routes(routes!(reset_password_page))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(set_password))
}

#[utoipa::path(post, path = "/auth/forget-password", tag = "auth",
    request_body = inputs::ForgetPassword,
    responses(
        (status = 200, description = "Same answer whether or not the account exists", body = StatusResult),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn forget_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::ForgetPassword>,
) -> AppResult<Json<StatusResult>> {
    state.forget_password(input, &meta).await?;
    Ok(status_ok())
}

#[utoipa::path(get, path = "/reset-password", tag = "pages",
    params(TokenQuery),
    responses((status = 200, description = "A minimal page with a new-password form", content_type = "text/html", body = String)))]
async fn reset_password_page(Query(q): Query<TokenQuery>) -> Response {
    crate::pages::reset_password(q.token.as_deref().is_some_and(|t| !t.is_empty()))
}

#[utoipa::path(post, path = "/auth/reset-password", tag = "auth",
    request_body = inputs::ResetPassword,
    responses(
        (status = 200, body = StatusResult),
        (status = 400, description = "INVALID_TOKEN or BAD_REQUEST", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR (newPassword)", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::ResetPassword>,
) -> AppResult<Json<StatusResult>> {
    state.reset_password(input, &meta).await?;
    Ok(status_ok())
}

#[utoipa::path(post, path = "/auth/change-password", tag = "auth",
    request_body = inputs::ChangePassword,
    responses(
        (status = 200, body = StatusResult),
        (status = 401, description = "No session, or INVALID_CREDENTIALS", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 423, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn change_password(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::ChangePassword>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    state.change_password(&p, input, &meta).await?;
    Ok(with_cookies(status_ok(), &cookies))
}

#[utoipa::path(post, path = "/auth/set-password", tag = "auth",
    request_body = inputs::SetPassword,
    responses(
        (status = 200, body = StatusResult),
        (status = 401, body = ErrorBody),
        (status = 409, description = "PASSWORD_ALREADY_SET", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn set_password(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::SetPassword>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    state.set_password(&p, input, &meta).await?;
    Ok(with_cookies(status_ok(), &cookies))
}
