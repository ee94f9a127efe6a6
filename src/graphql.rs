//! The GraphQL door at `/graphql` (docs/api.md §5): resolvers over the same service layer
//! as REST, rendering the same error type in `extensions`.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Context, EmptySubscription, Object, Schema};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::inputs;
use crate::model::{
    LinkedAccount, Me, SessionInfo, SignInMethods, SignInResult, SignUpResult, SocialUrl,
    StatusResult, TwoFactorStatus, VerifyEmailResult,
};
use crate::service::{AppState, Principal, RequestMeta, SignedIn};
use crate::web::{
    PresentedToken, clear_cookie, is_json, oauth_state_cookie, parse_json, read_body,
    session_cookie,
};

/// The schema type served at `/graphql`.
pub type LatchSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

mod documents;
mod limits;
mod plain;
mod schema_description;

/// Builds the schema; `state` is absent only for printing the SDL.
pub fn build_schema(state: Option<AppState>) -> LatchSchema {
    schema_builder(state).finish()
}

fn schema_builder(
    state: Option<AppState>,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    // Depth and complexity are limited by `limits` over latch's own types, so the
    // standard introspection queries pass (docs/api.md §5).
    let mut builder = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .limit_recursive_depth(32)
        .extension(limits::Limits)
        .extension(schema_description::SchemaDescription);
    if let Some(s) = state {
        builder = builder.data(s);
    }
    builder
}

/// The SDL as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None).sdl()
}

/// Per-request data of a GraphQL operation.
struct GqlRequest {
    token: PresentedToken,
    meta: RequestMeta,
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
    let p = st.authenticate(req.token.as_deref()).await.map_err(gql)?;
    if let (Some(max_age), true, Some(t)) =
        (p.extended, req.token.from_cookie, req.token.as_deref())
    {
        ctx.append_http_header(header::SET_COOKIE, session_cookie(st.config(), t, max_age));
    }
    Ok(p)
}

fn set_session_cookie(ctx: &Context<'_>, s: &SignedIn) {
    let cookie = session_cookie(state(ctx).config(), &s.token, s.cookie_max_age);
    ctx.append_http_header(header::SET_COOKIE, cookie);
}

/// Queries.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The signed-in user, their workspaces and the active one.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Me> {
        let p = principal(ctx).await?;
        state(ctx).me(&p).await.map_err(gql)
    }

    /// The current session and its user.
    async fn session(&self, ctx: &Context<'_>) -> GqlResult<SessionInfo> {
        let p = principal(ctx).await?;
        Ok(state(ctx).session_info(p))
    }

    /// Every way the user can sign in.
    async fn linked_accounts(&self, ctx: &Context<'_>) -> GqlResult<Vec<LinkedAccount>> {
        let p = principal(ctx).await?;
        state(ctx).linked_accounts(&p).await.map_err(gql)
    }

    /// The sign-in methods a page can offer; no session needed.
    async fn sign_in_methods(&self, ctx: &Context<'_>) -> SignInMethods {
        state(ctx).sign_in_methods()
    }

    /// Whether a second factor is enabled, and which.
    async fn two_factor_status(&self, ctx: &Context<'_>) -> GqlResult<TwoFactorStatus> {
        let p = principal(ctx).await?;
        state(ctx).two_factor_status(&p).await.map_err(gql)
    }
}

/// Mutations.
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Creates an unverified account and mails a verification link.
    async fn sign_up_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::SignUpEmail,
    ) -> GqlResult<SignUpResult> {
        state(ctx)
            .sign_up(input, &request(ctx).meta)
            .await
            .map_err(gql)
    }

    /// Signs in with email and password; sets the session cookie.
    async fn sign_in_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::SignInEmail,
    ) -> GqlResult<SignInResult> {
        let s = state(ctx)
            .sign_in(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_session_cookie(ctx, &s);
        Ok(s.to_result())
    }

    /// Deletes the current session and clears the cookie; idempotent.
    async fn logout(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let st = state(ctx);
        st.logout(request(ctx).token.as_deref())
            .await
            .map_err(gql)?;
        ctx.append_http_header(header::SET_COOKIE, clear_cookie(st.config()));
        Ok(true)
    }

    /// Mails a password reset link when the account exists (same answer either way).
    async fn forget_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::ForgetPassword,
    ) -> GqlResult<StatusResult> {
        state(ctx)
            .forget_password(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Sets a new password from a reset token.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::ResetPassword,
    ) -> GqlResult<StatusResult> {
        state(ctx)
            .reset_password(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Changes the signed-in user's password.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::ChangePassword,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .change_password(&p, input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Gives a password to an account that has none.
    async fn set_password(
        &self,
        ctx: &Context<'_>,
        input: inputs::SetPassword,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx)
            .set_password(&p, input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Verifies the email with a token from a verification link and signs in.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        input: inputs::VerifyEmail,
    ) -> GqlResult<VerifyEmailResult> {
        let v = state(ctx)
            .verify_email(&input.token, None, &request(ctx).meta)
            .await
            .map_err(gql)?;
        set_session_cookie(ctx, &v.signed_in);
        Ok(v.signed_in.to_verify_result())
    }

    /// Mails a new verification link to an unverified account (same answer either way).
    async fn resend_verification(
        &self,
        ctx: &Context<'_>,
        input: inputs::ResendVerification,
    ) -> GqlResult<StatusResult> {
        state(ctx)
            .resend_verification(input, &request(ctx).meta)
            .await
            .map_err(gql)?;
        Ok(StatusResult { status: true })
    }

    /// Starts a social sign-in: the provider's authorization URL to send the browser to.
    async fn social_sign_in(
        &self,
        ctx: &Context<'_>,
        input: inputs::SocialSignIn,
    ) -> GqlResult<SocialUrl> {
        let st = state(ctx);
        let start = st
            .social_start(
                &input.provider,
                input.callback_url.as_deref(),
                input.error_callback_url.as_deref(),
                None,
                &request(ctx).meta,
            )
            .await
            .map_err(gql)?;
        ctx.append_http_header(
            header::SET_COOKIE,
            oauth_state_cookie(st.config(), &start.binding),
        );
        Ok(SocialUrl {
            url: start.url.into(),
        })
    }

    /// Starts linking a provider to the signed-in user.
    async fn link_social(
        &self,
        ctx: &Context<'_>,
        input: inputs::LinkSocial,
    ) -> GqlResult<SocialUrl> {
        let p = principal(ctx).await?;
        let st = state(ctx);
        let start = st
            .social_start(
                &input.provider,
                input.callback_url.as_deref(),
                input.error_callback_url.as_deref(),
                Some(&p),
                &request(ctx).meta,
            )
            .await
            .map_err(gql)?;
        ctx.append_http_header(
            header::SET_COOKIE,
            oauth_state_cookie(st.config(), &start.binding),
        );
        Ok(SocialUrl {
            url: start.url.into(),
        })
    }

    /// Removes a way to sign in, never the last one.
    async fn unlink_provider(
        &self,
        ctx: &Context<'_>,
        input: inputs::UnlinkProvider,
    ) -> GqlResult<StatusResult> {
        let p = principal(ctx).await?;
        state(ctx).unlink_provider(&p, input).await.map_err(gql)?;
        Ok(StatusResult { status: true })
    }
}

/// Shared state of the `/graphql` handlers.
#[derive(Clone)]
pub struct GraphqlState {
    app: AppState,
    /// Strict validation, or the result it gave the same document before (the
    /// document cache's extension).
    schema: LatchSchema,
    documents: std::sync::Arc<documents::Documents>,
}

impl GraphqlState {
    pub fn new(app: AppState) -> GraphqlState {
        GraphqlState {
            schema: schema_builder(Some(app.clone()))
                .extension(documents::ValidationProbe)
                .finish(),
            documents: Default::default(),
            app,
        }
    }
}

impl axum::extract::FromRef<GraphqlState> for AppState {
    fn from_ref(gs: &GraphqlState) -> AppState {
        gs.app.clone()
    }
}

/// `POST /graphql`: JSON body rules of docs/api.md §2, then the operation.
pub async fn post_graphql(State(gs): State<GraphqlState>, req: Request) -> Response {
    if !is_json(req.headers()) {
        return AppError::unsupported_media_type().into_response();
    }
    let token = PresentedToken::from_headers(req.headers());
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(gs.app.config(), &parts);
    let req = Request::from_parts(parts, body);
    let bytes = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let gql_req: async_graphql::Request = match parse_json(&bytes) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    execute(&gs, gql_req, token, meta, Door::Post).await
}

#[derive(serde::Deserialize)]
pub struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
}

/// `GET /graphql`: GraphiQL for a browser; queries (never mutations) from parameters.
pub async fn get_graphql(
    State(gs): State<GraphqlState>,
    headers: HeaderMap,
    meta: RequestMeta,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return AppError::bad_request("Invalid query string.").into_response();
    };
    let Some(query) = params.query else {
        return crate::pages::graphiql();
    };
    let mut req = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        req = req.operation_name(name);
    }
    if let Some(vars) = params.variables {
        match serde_json::from_str(&vars) {
            Ok(v) => req = req.variables(async_graphql::Variables::from_json(v)),
            Err(_) => return AppError::bad_request("`variables` is not JSON.").into_response(),
        }
    }
    execute(
        &gs,
        req,
        PresentedToken::from_headers(&headers),
        meta,
        Door::Get,
    )
    .await
}

/// Which request carried the operation: mutations come only with POST.
#[derive(PartialEq)]
enum Door {
    Get,
    Post,
}

/// GraphQL over HTTP: mutations only over POST; nothing runs.
fn mutation_over_get() -> Response {
    let mut res = AppError::mutation_over_get().into_response();
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    res
}

/// Whether the operation the request selects is a mutation (the request's document,
/// parsed once: by the document cache, or here for the executor to reuse).
fn is_mutation(req: &mut async_graphql::Request) -> bool {
    let operation_name = req.operation_name.clone();
    let Ok(doc) = req.parsed_query() else {
        return false;
    };
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => match &operation_name {
            Some(name) => ops
                .get(name.as_str())
                .is_some_and(|op| op.node.ty == OperationType::Mutation),
            None => ops.values().any(|op| op.node.ty == OperationType::Mutation),
        },
    }
}

async fn execute(
    gs: &GraphqlState,
    req: async_graphql::Request,
    token: PresentedToken,
    meta: RequestMeta,
    door: Door,
) -> Response {
    let mut req = req.data(GqlRequest { token, meta });
    let prepared = gs.documents.prepare(&mut req);
    if door == Door::Get && is_mutation(&mut req) {
        return mutation_over_get();
    }
    let mut remember = None;
    if let Some(probe) = &prepared.probe {
        remember = Some((req.query.clone(), req.operation_name.clone()));
        req = req.data(probe.clone());
    }
    if let Some(known) = prepared.validated {
        req = req.data(known);
    }
    let mut resp = gs.schema.execute(req).await;
    if let (Some(probe), Some((query, operation))) = (&prepared.probe, remember)
        && let Some(result) = probe.passed()
    {
        gs.documents.validated(&query, operation.as_deref(), result);
    }
    // Errors from GraphQL itself (syntax, validation, variables, the limits) are
    // rendered by the one error type too.
    resp.errors
        .iter_mut()
        .for_each(crate::error::graphql_extensions);
    let headers = std::mem::take(&mut resp.http_headers);
    let mut res = (StatusCode::OK, crate::web::Json(&resp)).into_response();
    for (name, value) in headers.iter() {
        res.headers_mut().append(name.clone(), value.clone());
    }
    res
}

/// `GET /graphql/schema.graphql`: the SDL this server runs.
pub async fn served_sdl(State(gs): State<GraphqlState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        gs.schema.sdl(),
    )
        .into_response()
}
