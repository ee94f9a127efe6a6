//! The REST door under `/auth` (docs/api.md §4): thin handlers over the service layer.
//! Each handler carries its OpenAPI description, and `/openapi.json` is built from
//! these handlers, so the document cannot drift from the routes.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, AppResult, ErrorBody, Kind};
use crate::inputs::{self, CallbackQuery, SocialQuery, TokenQuery, VerifyEmailQuery};
use crate::model::{
    Health, LinkedAccounts, Me, SessionInfo, SignInMethods, SignInResult, SignUpResult, SocialUrl,
    StatusResult, SuccessResult, TwoFactorStatus, VerifyEmailResult,
};
use crate::redirect::with_query;
use crate::service::{AppState, Principal, RequestMeta};
use crate::web::{
    Json, JsonBody, NoFields, OAUTH_STATE_COOKIE, PresentedToken, append_cookies, clear_cookie,
    clear_oauth_state_cookie, oauth_state_cookie, session_cookie, sole_cookie_value,
};

#[derive(OpenApi)]
#[openapi(info(
    title = "latch",
    description = "Account and session service: the REST compatibility layer. \
                   Errors are `{code, reason, message, fields}` (docs/api.md §3)."
))]
struct ApiDoc;

/// The REST routes and the OpenAPI document describing them.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(session))
        .routes(routes!(me))
        .routes(routes!(logout))
        .routes(routes!(sign_out))
        .routes(routes!(forget_password))
        .routes(routes!(reset_password_page))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(set_password))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(linked_accounts))
        .routes(routes!(unlink_provider))
        .routes(routes!(two_factor_status))
        .routes(routes!(sign_in_methods))
        .routes(routes!(social_sign_in))
        .routes(routes!(social_sign_in_redirect))
        .routes(routes!(link_social))
        .routes(routes!(social_callback))
        .routes(routes!(healthz))
        .split_for_parts()
}

fn status_ok() -> Json<StatusResult> {
    Json(StatusResult { status: true })
}

/// Resolves the caller's session; an extended session re-issues its cookie.
async fn principal(
    state: &AppState,
    token: &PresentedToken,
) -> AppResult<(Principal, Vec<String>)> {
    let p = state.authenticate(token.as_deref()).await?;
    let mut cookies = Vec::new();
    if let (Some(max_age), true, Some(t)) = (p.extended, token.from_cookie, token.as_deref()) {
        cookies.push(session_cookie(state.config(), t, max_age));
    }
    Ok((p, cookies))
}

/// A 302 to an allowlisted URL (docs/api.md §4 names 302 for browser redirects).
fn found(url: &url::Url) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, url.as_str().to_string())],
    )
        .into_response()
}

fn with_cookies(body: impl IntoResponse, cookies: &[String]) -> Response {
    let mut res = body.into_response();
    append_cookies(&mut res, cookies);
    res
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
    state.sign_up(input, &meta).await.map(Json)
}

#[utoipa::path(post, path = "/auth/sign-in/email", tag = "auth",
    request_body = inputs::SignInEmail,
    responses(
        (status = 200, description = "Signed in; sets the session_token cookie", body = SignInResult),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorBody),
        (status = 403, description = "EMAIL_NOT_VERIFIED", body = ErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::SignInEmail>,
) -> AppResult<Response> {
    let signed = state.sign_in(input, &meta).await?;
    let cookie = session_cookie(state.config(), &signed.token, signed.cookie_max_age);
    Ok(with_cookies(Json(signed.to_result()), &[cookie]))
}

#[utoipa::path(get, path = "/auth/session", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody)))]
async fn session(State(state): State<AppState>, token: PresentedToken) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token).await?;
    Ok(with_cookies(Json(state.session_info(p)), &cookies))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, token: PresentedToken) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token).await?;
    Ok(with_cookies(Json(state.me(&p).await?), &cookies))
}

async fn do_logout(state: &AppState, token: &PresentedToken) -> AppResult<Response> {
    state.logout(token.as_deref()).await?;
    let cookie = clear_cookie(state.config());
    Ok(with_cookies(
        Json(SuccessResult { success: true }),
        &[cookie],
    ))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 200, description = "Session deleted and cookie cleared (idempotent)", body = SuccessResult),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    token: PresentedToken,
    _: NoFields,
) -> AppResult<Response> {
    do_logout(&state, &token).await
}

#[utoipa::path(post, path = "/auth/sign-out", tag = "auth",
    responses((status = 200, description = "Same as /auth/logout", body = SuccessResult),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn sign_out(
    State(state): State<AppState>,
    token: PresentedToken,
    _: NoFields,
) -> AppResult<Response> {
    do_logout(&state, &token).await
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
    let (p, cookies) = principal(&state, &token).await?;
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
    let (p, cookies) = principal(&state, &token).await?;
    state.set_password(&p, input, &meta).await?;
    Ok(with_cookies(status_ok(), &cookies))
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
    let Query(q) = query.map_err(|_| AppError::bad_request("Invalid query string."))?;
    let token = q.token.unwrap_or_default();
    match state
        .verify_email(&token, q.callback_url.as_deref(), &meta)
        .await
    {
        Ok(v) => {
            let s = &v.signed_in;
            let cookie = session_cookie(state.config(), &s.token, s.cookie_max_age);
            Ok(match v.redirect {
                Some(url) => with_cookies(found(&url), &[cookie]),
                None => with_cookies(Json(s.to_verify_result()), &[cookie]),
            })
        }
        Err(e) if e.kind() == Kind::InvalidRedirect => Err(e),
        Err(e) => {
            // With a valid callbackURL the browser goes back to the app with the error.
            match state.redirect(q.callback_url.as_deref()) {
                Ok(Some(url)) => {
                    e.log();
                    let code = e.kind().redirect_code();
                    let mut res = found(&with_query(&url, "error", code));
                    if let Some(secs) = e.retry_after_secs() {
                        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
                    }
                    Ok(res)
                }
                _ => Err(e),
            }
        }
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

#[utoipa::path(get, path = "/auth/linked-accounts", tag = "auth",
    responses((status = 200, body = LinkedAccounts), (status = 401, body = ErrorBody)))]
async fn linked_accounts(
    State(state): State<AppState>,
    token: PresentedToken,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token).await?;
    let accounts = state.linked_accounts(&p).await?;
    Ok(with_cookies(Json(LinkedAccounts { accounts }), &cookies))
}

#[utoipa::path(post, path = "/auth/unlink-provider", tag = "auth",
    request_body = inputs::UnlinkProvider,
    responses(
        (status = 200, body = StatusResult),
        (status = 401, body = ErrorBody),
        (status = 403, description = "LAST_LOGIN_METHOD", body = ErrorBody),
        (status = 404, description = "Not linked", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
async fn unlink_provider(
    State(state): State<AppState>,
    token: PresentedToken,
    JsonBody(input): JsonBody<inputs::UnlinkProvider>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token).await?;
    state.unlink_provider(&p, input).await?;
    Ok(with_cookies(status_ok(), &cookies))
}

#[utoipa::path(get, path = "/auth/two-factor/status", tag = "auth",
    responses((status = 200, body = TwoFactorStatus), (status = 401, body = ErrorBody)))]
async fn two_factor_status(
    State(state): State<AppState>,
    token: PresentedToken,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token).await?;
    Ok(with_cookies(
        Json(state.two_factor_status(&p).await?),
        &cookies,
    ))
}

#[utoipa::path(get, path = "/auth/sign-in-methods", tag = "auth",
    responses((status = 200, description = "What a sign-in page can offer; no session needed", body = SignInMethods)))]
async fn sign_in_methods(State(state): State<AppState>) -> Json<SignInMethods> {
    Json(state.sign_in_methods())
}

#[utoipa::path(post, path = "/auth/sign-in/social", tag = "social",
    request_body = inputs::SocialSignIn,
    responses(
        (status = 200, description = "The provider's authorization URL (code flow, PKCE S256, state, nonce)", body = SocialUrl),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 400, description = "BAD_REQUEST, or PROVIDER_ERROR when the provider is unavailable", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn social_sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::SocialSignIn>,
) -> AppResult<Response> {
    let start = state
        .social_start(
            &input.provider,
            input.callback_url.as_deref(),
            input.error_callback_url.as_deref(),
            None,
            &meta,
        )
        .await?;
    let cookie = oauth_state_cookie(state.config(), &start.binding);
    Ok(with_cookies(
        Json(SocialUrl {
            url: start.url.into(),
        }),
        &[cookie],
    ))
}

#[utoipa::path(get, path = "/auth/sign-in/social/{provider}", tag = "social",
    params(("provider" = String, Path, description = "Configured provider name"), SocialQuery),
    responses(
        (status = 302, description = "Redirect to the provider's authorization URL"),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 400, body = ErrorBody),
    ))]
async fn social_sign_in_redirect(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    meta: RequestMeta,
    query: Result<Query<SocialQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let Query(q) = query.map_err(|_| AppError::bad_request("Invalid query string."))?;
    let start = state
        .social_start(
            &provider,
            q.callback_url.as_deref(),
            q.error_callback_url.as_deref(),
            None,
            &meta,
        )
        .await?;
    let cookie = oauth_state_cookie(state.config(), &start.binding);
    Ok(with_cookies(found(&start.url), &[cookie]))
}

#[utoipa::path(post, path = "/auth/link-social", tag = "social",
    request_body = inputs::LinkSocial,
    responses(
        (status = 200, description = "The provider's authorization URL; the callback links to the signed-in user", body = SocialUrl),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 403, description = "INVALID_REDIRECT", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
async fn link_social(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::LinkSocial>,
) -> AppResult<Response> {
    let (p, mut cookies) = principal(&state, &token).await?;
    let start = state
        .social_start(
            &input.provider,
            input.callback_url.as_deref(),
            input.error_callback_url.as_deref(),
            Some(&p),
            &meta,
        )
        .await?;
    cookies.push(oauth_state_cookie(state.config(), &start.binding));
    Ok(with_cookies(
        Json(SocialUrl {
            url: start.url.into(),
        }),
        &cookies,
    ))
}

#[utoipa::path(get, path = "/auth/callback/{provider}", tag = "social",
    params(("provider" = String, Path, description = "Configured provider name"), CallbackQuery),
    responses(
        (status = 302, description = "To callbackURL (default: the app URL) with the session cookie; on failure to errorCallbackURL?error=REASON when the flow named one"),
        (status = 400, description = "INVALID_STATE or PROVIDER_ERROR", body = ErrorBody),
        (status = 403, description = "EMAIL_NOT_VERIFIED or ACCOUNT_NOT_LINKED", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 409, description = "ACCOUNT_ALREADY_LINKED", body = ErrorBody),
    ))]
async fn social_callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // The binding is single use like the state: every answer clears it.
    let mut cookies = vec![clear_oauth_state_cookie(state.config())];
    let q = match query {
        Ok(Query(q)) => q,
        Err(_) => {
            let e = AppError::bad_request("Invalid query string.");
            return with_cookies(e, &cookies);
        }
    };
    let binding = sole_cookie_value(&headers, OAUTH_STATE_COOKIE);
    match state.social_callback(&provider, q, binding, &meta).await {
        Ok(outcome) => {
            cookies.extend(
                outcome
                    .signed_in
                    .iter()
                    .map(|s| session_cookie(state.config(), &s.token, s.cookie_max_age)),
            );
            with_cookies(found(&outcome.redirect), &cookies)
        }
        Err(failure) => match failure.redirect {
            Some(url) => {
                failure.error.log();
                with_cookies(found(&url), &cookies)
            }
            None => with_cookies(failure.error, &cookies),
        },
    }
}

#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, description = "The database does not answer", body = Health)))]
async fn healthz(State(state): State<AppState>) -> Response {
    if state.healthy().await {
        Json(Health {
            status: "ok".into(),
        })
        .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable".into(),
            }),
        )
            .into_response()
    }
}
