//! Step-up, session management and account self-service (docs/api.md §7, §9, §11).

use super::*;
use crate::model::{ActiveSession, Reauthenticated, RevokedSessions, SessionList, UserResult};
use crate::web::{clear_account_cookies, clear_sign_in_cookies};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reauthenticate))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_other_sessions))
        .routes(routes!(update_user))
        .routes(routes!(change_email))
        .routes(routes!(confirm_email_change))
        .routes(routes!(delete_user))
}

#[utoipa::path(post, path = "/auth/reauthenticate", tag = "account",
    request_body = inputs::Reauthenticate,
    responses(
        (status = 200, description = "The proofs were right; the session is fresh until freshUntil", body = Reauthenticated),
        (status = 400, description = "No proof sent, or BAD_REQUEST", body = ErrorBody),
        (status = 401, description = "No session, INVALID_CREDENTIALS or INVALID_CODE", body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn reauthenticate(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::Reauthenticate>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let fresh_until = state.reauthenticate(&p, input, &meta).await?;
    Ok(with_cookies(
        Json(Reauthenticated {
            status: true,
            fresh_until,
        }),
        &cookies,
    ))
}

#[utoipa::path(get, path = "/auth/list-sessions", tag = "account",
    responses(
        (status = 200, description = "The unexpired sessions: the current one first, then by lastActiveAt, newest first; 100 at most", body = SessionList),
        (status = 401, body = ErrorBody),
    ))]
async fn list_sessions(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let sessions = state.list_sessions(&p).await?;
    Ok(with_cookies(
        Json(SessionList {
            sessions: sessions.into_iter().map(ActiveSession::from).collect(),
        }),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/revoke-session", tag = "account",
    request_body = inputs::RevokeSession,
    responses(
        (status = 200, description = "Ended; the caller's own session acts as logout and clears the cookie", body = StatusResult),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Not one of the caller's active sessions", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::RevokeSession>,
) -> AppResult<Response> {
    let (p, mut cookies) = principal(&state, &token, &meta).await?;
    if state.revoke_session(&p, &input.session_id, &meta).await? {
        cookies = clear_sign_in_cookies(state.config()).to_vec();
    }
    Ok(with_cookies(status_ok(), &cookies))
}

#[utoipa::path(post, path = "/auth/revoke-other-sessions", tag = "account",
    responses(
        (status = 200, description = "Every other session of the user ended", body = RevokedSessions),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
async fn revoke_other_sessions(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    _: NoFields,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let revoked = state.revoke_other_sessions(&p, &meta).await?;
    Ok(with_cookies(
        Json(RevokedSessions {
            status: true,
            revoked,
        }),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/update-user", tag = "account",
    request_body = inputs::UpdateUser,
    responses(
        (status = 200, body = UserResult),
        (status = 401, body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR (name, image)", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::UpdateUser>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let user = state.update_user(&p, input.into_command()?).await?;
    Ok(with_cookies(
        Json(UserResult { user: user.into() }),
        &cookies,
    ))
}

#[utoipa::path(post, path = "/auth/change-email", tag = "account",
    request_body = inputs::ChangeEmail,
    responses(
        (status = 200, description = "A confirmation link went to the new address (or, when a verified account has it, a notice there instead)", body = StatusResult),
        (status = 401, body = ErrorBody),
        (status = 403, description = "REAUTHENTICATION_REQUIRED or INVALID_REDIRECT", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR (newEmail)", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn change_email(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::ChangeEmail>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    state.change_email(&p, input, &meta).await?;
    Ok(with_cookies(status_ok(), &cookies))
}

#[utoipa::path(get, path = "/auth/confirm-email-change", tag = "account",
    params(VerifyEmailQuery),
    responses(
        (status = 200, description = "The email changed (no callbackURL)", body = UserResult),
        (status = 302, description = "Changed, redirected to callbackURL; or callbackURL?error=CODE"),
        (status = 400, description = "INVALID_TOKEN", body = ErrorBody),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 409, description = "USER_EXISTS: a verified account took the address", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn confirm_email_change(
    State(state): State<AppState>,
    meta: RequestMeta,
    query: Result<Query<VerifyEmailQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let q = parsed_query(query)?;
    let token = q.token.unwrap_or_default();
    match state
        .confirm_email_change(&token, q.callback_url.as_deref(), &meta)
        .await
    {
        Ok(c) => Ok(match c.redirect {
            Some(url) => found(&url),
            None => Json(UserResult {
                user: c.user.into(),
            })
            .into_response(),
        }),
        Err(e) => error_to_callback(&state, q.callback_url.as_deref(), e),
    }
}

#[utoipa::path(post, path = "/auth/delete-user", tag = "account",
    request_body = inputs::DeleteUser,
    responses(
        (status = 200, description = "Deleted; the cookies are cleared", body = SuccessResult),
        (status = 401, body = ErrorBody),
        (status = 403, description = "REAUTHENTICATION_REQUIRED", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 423, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::DeleteUser>,
) -> AppResult<Response> {
    let (p, _) = principal(&state, &token, &meta).await?;
    state.delete_user(&p, input, &meta).await?;
    Ok(with_cookies(
        Json(SuccessResult { success: true }),
        &clear_account_cookies(state.config()),
    ))
}
