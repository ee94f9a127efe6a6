//! Wiring: storage, hashing, mail, the service state, and the HTTP router of both doors.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::error::AppError;
use crate::graphql::{self, GraphqlState};
use crate::guard::Guard;
use crate::mail::Mailer;
use crate::oidc::Providers;
use crate::password::Hasher;
use crate::rest;
use crate::service::AppState;
use crate::store::Store;
use crate::web;

/// A built application, bound to its port, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Validates the configuration, connects and migrates the database, binds the port.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        let cfg = settings.resolve(bound)?;
        let store = Store::connect(&cfg.database_url).await?;
        store.migrate().await?;
        let hasher = Hasher::new(cfg.argon2)?;
        let mailer = Mailer::from_config(&cfg)?;
        let guard = Guard::from_config(&cfg)?;
        let providers = Providers::from_config(&cfg)?;
        // Discovery runs in the background: a provider that is down is reported and
        // retried, and never keeps latch from serving.
        tokio::spawn(
            providers
                .clone()
                .discover_all(std::time::Duration::from_secs(30)),
        );
        let state = AppState::new(cfg, store, hasher, mailer, guard, providers);
        let router = router(state.clone())?;
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    /// The address the listener got (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("BUG: a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, finishing requests in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!("listening on {}", self.local_addr());
        // Idle clients' rate-limit state is dropped once a minute, bounding its memory.
        let guard = self.state.guard().clone();
        let purge = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                guard.purge();
            }
        });
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
        purge.abort();
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Both doors, `/openapi.json`, `/healthz`, and the contract's 404/405 bodies.
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let (rest_routes, openapi) = rest::router();
    let openapi_json = openapi.to_pretty_json().context("rendering OpenAPI")?;
    let gs = GraphqlState {
        app: state.clone(),
        schema: graphql::build_schema(Some(state.clone())),
    };
    let graphql_routes = Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphql/schema.graphql", get(graphql::served_sdl))
        .with_state(gs);
    let router = rest_routes
        .with_state(state.clone())
        .merge(graphql_routes)
        .route(
            "/openapi.json",
            get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], openapi_json).into_response()
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), web::request_meta))
        .layer(middleware::from_fn_with_state(state.clone(), web::origin_check))
        .layer(web::cors(state.config()))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        // Spans carry the method and path only: query strings hold one-time tokens,
        // which must never reach a log line.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        );
    Ok(router)
}

async fn not_found() -> Response {
    AppError::not_found("There is no such route.").into_response()
}

async fn method_not_allowed() -> Response {
    AppError::method_not_allowed().into_response()
}
