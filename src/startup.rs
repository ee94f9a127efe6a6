//! Wiring: storage, hashing, mail, the service state, and the HTTP router of both doors.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::config::{Config, Settings};
use crate::envelope::{Envelope, EnvelopeConfig};
use crate::error::AppError;
use crate::graphql::{self, GraphqlState};
use crate::guard::Guard;
use crate::mail::Mailer;
use crate::oidc::Providers;
use crate::password::Hasher;
use crate::rest;
use crate::sealing::SealingKey;
use crate::service::AppState;
use crate::store::Store;

/// A built application, bound to its port, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: crate::server::App,
    /// Handlers that outlive their request deadline; shutdown waits for them.
    detached: crate::server::Detached,
    state: AppState,
}

/// The service for an operator command: the same store, mail and configuration as
/// `serve`, without binding the port or discovering providers.
pub async fn operator_state(settings: Settings) -> anyhow::Result<AppState> {
    let cfg = settings.resolve(settings.bind)?;
    let store = Store::from_config(&cfg).await?;
    build_state(cfg, store).await
}

/// The service over a migrated store, with the configured mail, guard and providers.
async fn build_state(cfg: Config, store: Store) -> anyhow::Result<AppState> {
    store.migrate().await?;
    let key = SealingKey::load(
        cfg.secret_key.as_ref(),
        std::path::Path::new(&cfg.secret_key_file),
    )?;
    if !store.check_key(&key).await? {
        anyhow::bail!(
            "the secret key is not the one this database was set up with: set LATCH_SECRET_KEY, \
             or LATCH_SECRET_KEY_FILE to the file holding that key (every second-factor secret \
             is sealed with it)"
        );
    }
    let hasher = Hasher::new(cfg.argon2)?;
    let mailer = Mailer::from_config(&cfg)?;
    let guard = Guard::from_config(&cfg)?;
    let providers = Providers::from_config(&cfg)?;
    AppState::new(cfg, store, hasher, mailer, guard, providers, key)
}

impl Application {
    /// Validates the configuration, connects and migrates the database, binds the port.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        let cfg = settings.resolve(bound)?;
        let store = Store::from_config(&cfg).await?.remember_sessions(&cfg)?;
        let state = build_state(cfg, store).await?;
        // PostgreSQL: know the other instances before answering anything, so the first
        // writing requests are not slowed (a listener that does not come up is waited
        // for no longer than this; its requests then outwait the bound).
        state
            .store()
            .know_peers(std::time::Duration::from_secs(5))
            .await;
        if let Err(why) = &state.config().passkeys.relying_party {
            tracing::warn!("passkeys are off: {why}");
        }
        // Discovery runs in the background: a provider that is down is reported and
        // retried, and never keeps latch from serving.
        tokio::spawn(
            state
                .providers()
                .clone()
                .discover_all(std::time::Duration::from_secs(30)),
        );
        let detached = crate::server::Detached::default();
        let router = router(state.clone(), detached.clone())?;
        Ok(Application {
            listener,
            router,
            detached,
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
        let housekeeping = spawn_housekeeping(self.state.clone());
        let limits = crate::server::ConnectionLimits::from_config(self.state.config());
        crate::server::serve(
            self.listener,
            self.router,
            self.detached,
            limits,
            shutdown_signal(),
        )
        .await;
        for task in housekeeping {
            task.abort();
        }
        // PostgreSQL: the other instances stop waiting for this one at once.
        self.state.store().close().await;
        Ok(())
    }
}

/// Periodic work: purge expired rows (idempotent, safe on several instances at once),
/// drop idle clients' rate-limit state, and keep the metrics histograms drained.
fn spawn_housekeeping(state: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    use std::time::Duration;
    let purge_every = Duration::from_secs(state.config().purge_interval_secs);
    let purge = tokio::spawn(async move {
        let mut tick = tokio::time::interval(purge_every);
        loop {
            tick.tick().await;
            let window = state.config().lockout_window_secs;
            match state.store().purge_expired(window).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
            state.guard().purge();
        }
    });
    let handle = crate::telemetry::metrics_handle();
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
    vec![purge, upkeep]
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

/// Both doors, `/openapi.json`, the pages, `/metrics`, and the API document's 404/405
/// bodies. Every route is registered through [`Routes`], which also hands the
/// envelope its metric labels, so the two cannot drift apart.
pub fn router(
    state: AppState,
    detached: crate::server::Detached,
) -> anyhow::Result<crate::server::App> {
    let (rest_routes, openapi) = rest::router();
    let openapi_json = openapi.to_pretty_json().context("rendering OpenAPI")?;
    let mut routes = Routes {
        router: rest_routes.with_state(state.clone()),
        patterns: openapi.paths.paths.keys().cloned().collect(),
    };
    let gs = GraphqlState::new(state.clone());
    routes.add(
        "/graphql",
        get(graphql::get_graphql)
            .post(graphql::post_graphql)
            .with_state(gs.clone()),
    );
    routes.add(
        "/graphql/schema.graphql",
        get(graphql::served_sdl).with_state(gs),
    );
    routes.add(
        "/openapi.json",
        get(move || async move {
            ([(header::CONTENT_TYPE, "application/json")], openapi_json).into_response()
        }),
    );
    let landing = std::sync::Arc::new(crate::pages::landing(state.config().public_url.as_str()));
    routes.add("/", get(move || async move { landing.response() }));
    routes.add(
        "/README.md",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
                include_str!("../README.md"),
            )
        }),
    );
    let metrics = crate::telemetry::metrics_handle();
    routes.add(
        "/metrics",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                metrics.render(),
            )
                .into_response()
        }),
    );
    let Routes { router, patterns } = routes;
    let mut router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    if state.store().remembers_sessions() {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            settle_after_writes,
        ));
    }
    let envelope = EnvelopeConfig::new(
        &state.config().allowed_origins,
        patterns.iter().map(String::as_str),
    );
    let timeout = std::time::Duration::from_secs(state.config().request_timeout_secs);
    let router = crate::server::Deadlined::new(router, timeout, detached);
    Ok(Envelope::new(router, envelope))
}

/// The router under construction and the pattern of every route it has.
struct Routes {
    router: Router,
    patterns: Vec<String>,
}

impl Routes {
    fn add(&mut self, path: &'static str, route: axum::routing::MethodRouter) {
        self.patterns.push(path.to_string());
        self.router = std::mem::take(&mut self.router).route(path, route);
    }
}

/// PostgreSQL: a request during which this instance wrote answers only once the
/// notifications of its writes have reached every instance's listener (`Store::settle`),
/// so a logout answered here is seen by the very next check anywhere.
async fn settle_after_writes(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Only this request's own use of the database counts: a cached session check
    // beside a flood of sign-ins answers without waiting.
    let (res, used) = crate::store::used_pool(next.run(req)).await;
    if used {
        state.store().settle().await;
    }
    res
}

async fn not_found() -> Response {
    AppError::not_found("There is no such route.").into_response()
}

async fn method_not_allowed() -> Response {
    AppError::method_not_allowed().into_response()
}
