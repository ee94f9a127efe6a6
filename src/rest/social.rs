//! Linked sign-in methods and social sign-in (start, link, callback).

use super::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(linked_accounts))
        .routes(routes!(unlink_provider))
        .routes(routes!(social_sign_in))
        .routes(routes!(social_sign_in_redirect))
        .routes(routes!(link_social))
        .routes(routes!(social_callback))
}

#[utoipa::path(get, path = "/auth/linked-accounts", tag = "auth",
    responses((status = 200, body = LinkedAccounts), (status = 401, body = ErrorBody)))]
async fn linked_accounts(
    State(state): State<AppState>,
    token: PresentedToken,
    meta: RequestMeta,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    let accounts = state.linked_accounts(&p).await?;
    Ok(with_cookies(
        Json(LinkedAccounts {
            accounts: accounts.into_iter().map(Into::into).collect(),
        }),
        &cookies,
    ))
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
    meta: RequestMeta,
    JsonBody(input): JsonBody<inputs::UnlinkProvider>,
) -> AppResult<Response> {
    let (p, cookies) = principal(&state, &token, &meta).await?;
    state.unlink_provider(&p, input.into()).await?;
    Ok(with_cookies(status_ok(), &cookies))
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
    let start = state.social_start(input.into(), None, &meta).await?;
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
    let q = parsed_query(query)?;
    let start = state
        .social_start(q.for_provider(provider), None, &meta)
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
    let (p, mut cookies) = principal(&state, &token, &meta).await?;
    let start = state.social_start(input.into(), Some(&p), &meta).await?;
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
        (status = 302, description = "To callbackURL (default: the app URL) with the session cookie; when the second step is asked, to twoFactorCallbackURL (default: callbackURL with twoFactor=required) with the two_factor_ticket cookie; on failure to errorCallbackURL?error=REASON when the flow named one"),
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
    match state
        .social_callback(&provider, q.into(), binding, &meta)
        .await
    {
        Ok(outcome) => {
            if let Some(signed_in) = &outcome.signed_in {
                cookies.extend(sign_in_cookies(state.config(), signed_in, false));
            }
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
