//! GraphQL over HTTP at `/graphql`: the POST and GET policies of docs/api.md §5, the
//! document cache and the error rendering, around the schema.

use super::*;

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
            schema: schema_builder(Some(app.clone())).finish(),
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
    let token = PresentedToken::from_headers(req.headers());
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(gs.app.config(), &parts);
    let req = Request::from_parts(parts, body);
    let bytes = match crate::web::read_json_body(req).await {
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
    let mut req = req;
    let prepared = gs.documents.prepare(&mut req);
    if door == Door::Get && is_mutation(&mut req) {
        return mutation_over_get();
    }
    let operation_name = req.operation_name.clone();
    if prepared.validated.is_some()
        && let Ok(doc) = req.parsed_query()
        && let Some(fast) =
            fast::answer(&gs.app, doc, operation_name.as_deref(), &token, &meta).await
    {
        metrics::counter!(crate::telemetry::names::GRAPHQL_FAST_ANSWERS).increment(1);
        let mut res = render(&fast.body);
        if let Some(cookie) = fast.cookie
            && let Ok(v) = header::HeaderValue::from_str(&cookie)
        {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        return res;
    }
    let mut req = req.data(GqlRequest { token, meta });
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
    let mut res = render(&resp);
    for (name, value) in headers.iter() {
        res.headers_mut().append(name.clone(), value.clone());
    }
    res
}

/// A GraphQL answer over HTTP: 200 and the JSON body.
fn render(resp: &async_graphql::Response) -> Response {
    (StatusCode::OK, crate::web::Json(resp)).into_response()
}

/// `GET /graphql/schema.graphql`: the SDL this server runs.
pub async fn served_sdl(State(gs): State<GraphqlState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        gs.schema.sdl(),
    )
        .into_response()
}
