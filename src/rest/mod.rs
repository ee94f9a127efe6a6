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
    Json, JsonBody, NoFields, OAUTH_STATE_COOKIE, PresentedToken, append_cookies,
    clear_oauth_state_cookie, cookie_for_session, oauth_state_cookie, refreshed_cookie,
    sign_in_cookies, sole_cookie_value,
};

mod account;
mod accounts;
mod ops;
mod passkeys;
mod passwords;
mod sessions;
mod social;
mod two_factor;

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
        .merge(accounts::routes())
        .merge(account::routes())
        .merge(sessions::routes())
        .merge(passwords::routes())
        .merge(social::routes())
        .merge(two_factor::routes())
        .merge(passkeys::routes())
        .merge(ops::routes())
        .split_for_parts()
}

fn status_ok() -> Json<StatusResult> {
    Json(StatusResult { status: true })
}

/// Resolves the caller's session; an extended session re-issues its cookie.
async fn principal(
    state: &AppState,
    token: &PresentedToken,
    meta: &RequestMeta,
) -> AppResult<(Principal, Vec<String>)> {
    let p = state.authenticate(token.as_deref(), meta).await?;
    let cookies = refreshed_cookie(state.config(), token, &p)
        .into_iter()
        .collect();
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

/// A route's query string, or 400 when it does not parse.
fn parsed_query<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> AppResult<T> {
    query
        .map(|Query(q)| q)
        .map_err(|_| AppError::bad_request("Invalid query string."))
}

/// A link route's error: with a valid `callbackURL` the browser goes back to the app
/// with `?error=CODE` (an invalid `callbackURL` itself is answered as is).
fn error_to_callback(
    state: &AppState,
    callback_url: Option<&str>,
    e: AppError,
) -> AppResult<Response> {
    if e.kind() == Kind::InvalidRedirect {
        return Err(e);
    }
    match state.redirect(callback_url) {
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

fn with_cookies(body: impl IntoResponse, cookies: &[String]) -> Response {
    let mut res = body.into_response();
    append_cookies(&mut res, cookies);
    res
}
