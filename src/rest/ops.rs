//! What needs no session: sign-in discovery and health.

use super::*;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in_methods))
        .routes(routes!(healthz))
}

#[utoipa::path(get, path = "/auth/sign-in-methods", tag = "auth",
    responses((status = 200, description = "What a sign-in page can offer; no session needed", body = SignInMethods)))]
async fn sign_in_methods(State(state): State<AppState>) -> Json<SignInMethods> {
    Json(state.sign_in_methods().into())
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
