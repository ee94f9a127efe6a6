//! The GraphQL door at `/graphql` (docs/api.md §5): resolvers over the same service layer
//! as REST, rendering the same error type in `extensions`.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Context, EmptySubscription, MergedObject, Object, Schema};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::inputs;
use crate::model::{
    LinkedAccount, Me, SessionInfo, SignInMethods, SignInResult, SignUpResult, SocialUrl,
    StatusResult, TwoFactorStatus, VerifyEmailResult,
};
use crate::service::{AppState, Principal, RequestMeta, SignInOutcome, SignedIn};
use crate::web::{
    PresentedToken, clear_sign_in_cookies, cookie_for_session, oauth_state_cookie, parse_json,
    refreshed_cookie, sign_in_cookies,
};

/// The schema type served at `/graphql`.
pub type LatchSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

mod account;
mod accounts;
mod documents;
mod extension;
mod fast;
mod http;
mod limits;
mod ops;
mod passkeys;
mod passwords;
pub(crate) mod plain;
mod schema_description;
mod sessions;
mod social;
mod two_factor;

pub use http::{GraphqlState, get_graphql, post_graphql, served_sdl};

/// Builds the schema; `state` is absent only for printing the SDL.
pub fn build_schema(state: Option<AppState>) -> LatchSchema {
    schema_builder(state).finish()
}

fn schema_builder(
    state: Option<AppState>,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    // Depth and complexity are limited by `limits` over latch's own types, so the
    // standard introspection queries pass (docs/api.md §5).
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_recursive_depth(32)
    .extension(extension::Latch);
    if let Some(s) = state {
        builder = builder.data(s);
    }
    builder
}

/// The SDL as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None).sdl()
}

/// Per-request data of a GraphQL operation: the session token it presents and the
/// facts of its HTTP request. Every operation run on the schema carries one (the
/// HTTP door adds it; tests that run `schema.execute` add their own).
pub struct GqlRequest {
    token: PresentedToken,
    meta: RequestMeta,
}

impl GqlRequest {
    /// An operation presenting `bearer` as its session token (or none).
    pub fn new(bearer: Option<String>, meta: RequestMeta) -> GqlRequest {
        GqlRequest {
            token: PresentedToken {
                token: bearer,
                from_cookie: false,
            },
            meta,
        }
    }
}

type GqlResult<T> = async_graphql::Result<T>;

fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    // Present by construction: `serve` always builds the schema with the state.
    ctx.data_unchecked::<AppState>()
}

fn request<'a>(ctx: &Context<'a>) -> &'a GqlRequest {
    ctx.data_unchecked::<GqlRequest>()
}

fn gql(e: AppError) -> async_graphql::Error {
    e.into_graphql()
}

/// Resolves the caller's session; an extended cookie session re-issues the cookie.
async fn principal(ctx: &Context<'_>) -> GqlResult<Principal> {
    let st = state(ctx);
    let req = request(ctx);
    let p = st
        .authenticate(req.token.as_deref(), &req.meta)
        .await
        .map_err(gql)?;
    if let Some(cookie) = refreshed_cookie(st.config(), &req.token, &p) {
        ctx.append_http_header(header::SET_COOKIE, cookie);
    }
    Ok(p)
}

fn set_session_cookie(ctx: &Context<'_>, s: &SignedIn) {
    let cookie = cookie_for_session(state(ctx).config(), &s.token, &s.session);
    ctx.append_http_header(header::SET_COOKIE, cookie);
}

/// The cookies of a sign-in's answer, as REST sets them (`web::sign_in_cookies`).
fn set_sign_in_cookies(ctx: &Context<'_>, outcome: &SignInOutcome, verified: bool) {
    for cookie in sign_in_cookies(state(ctx).config(), outcome, verified) {
        ctx.append_http_header(header::SET_COOKIE, cookie);
    }
}

// Queries, one part per area; the parts' order is the order of the fields in the SDL.
// (A `///` comment here would become the type's description in the SDL.)
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    sessions::SessionsQuery,
    social::LinkedQuery,
    ops::OpsQuery,
    account::AccountQuery,
    passkeys::PasskeysQuery,
);

// Mutations, one part per area (accounts has two, to keep the SDL's order).
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    accounts::SignUpMutation,
    sessions::SessionsMutation,
    passwords::PasswordsMutation,
    accounts::VerificationMutation,
    social::SocialMutation,
    account::AccountMutation,
    two_factor::TwoFactorMutation,
    passkeys::PasskeyMutation,
);
