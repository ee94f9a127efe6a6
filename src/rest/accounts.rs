//! Sign-up, email verification and resend.

use super::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
}

#[utoipa::path(post, path = "/auth/sign-up/email", tag = "auth",
    request_body = inputs::SignUpEmail,
    responses(
        (status = 200, description = "Unverified account; a verification link was mailed", body = SignUpResult),
        (status = 409, description = "USER_EXISTS: the email belongs to a verified account", body = ErrorBody),
        (status = 422, description = "VALIDATION_ERROR", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::SignUpEmail>,
) -> AppResult<Json<SignUpResult>> {
    state
        .sign_up(input, &meta)
        .await
        .map(|u| Json(SignUpResult::from(u)))
}

#[utoipa::path(get, path = "/auth/verify-email", tag = "auth",
    params(VerifyEmailQuery),
    responses(
        (status = 200, description = "Verified and signed in (no callbackURL)", body = VerifyEmailResult),
        (status = 302, description = "Verified and signed in, redirected to callbackURL; or callbackURL?error=INVALID_TOKEN"),
        (status = 400, description = "INVALID_TOKEN", body = ErrorBody),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn verify_email(
    State(state): State<AppState>,
    meta: RequestMeta,
    query: Result<Query<VerifyEmailQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let q = parsed_query(query)?;
    let token = q.token.unwrap_or_default();
    match state
        .verify_email(&token, q.callback_url.as_deref(), &meta)
        .await
    {
        Ok(v) => {
            let s = &v.signed_in;
            let cookie = cookie_for_session(state.config(), &s.token, &s.session);
            Ok(match v.redirect {
                Some(url) => with_cookies(found(&url), &[cookie]),
                None => with_cookies(Json(VerifyEmailResult::from(s)), &[cookie]),
            })
        }
        Err(e) => error_to_callback(&state, q.callback_url.as_deref(), e),
    }
}

#[utoipa::path(post, path = "/auth/resend-verification", tag = "auth",
    request_body = inputs::ResendVerification,
    responses(
        (status = 200, description = "Same answer whether the account exists or is verified", body = StatusResult),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn resend_verification(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::ResendVerification>,
) -> AppResult<Json<StatusResult>> {
    state.resend_verification(input, &meta).await?;
    Ok(status_ok())
}
