//! Logs and metrics.
//!
//! Logs are `tracing` events, as text or JSON (`LATCH_LOG_FORMAT=json`); each request
//! has a span with its request id, method and path (never the query string, which can
//! carry one-time tokens). Metrics use the `metrics` facade and are rendered in the
//! Prometheus text format at `/metrics`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Names of the metrics latch records.
pub mod names {
    pub const SIGN_UPS: &str = "latch_sign_ups_total";
    pub const SIGN_INS: &str = "latch_sign_ins_total";
    pub const LOCKOUTS: &str = "latch_lockouts_total";
    pub const EMAILS: &str = "latch_emails_total";
    pub const BOT_CHECK_FAILURES: &str = "latch_bot_check_failures_total";
    pub const REQUEST_DURATION: &str = "latch_http_request_duration_seconds";
}

/// Installs the global log subscriber (text or JSON), filtered by `LATCH_LOG`.
pub fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_env("LATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// The process-wide Prometheus recorder (installed once; later calls share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(names::REQUEST_DURATION.to_string()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ],
                )
                .expect("BUG: static bucket list is valid");
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (an embedder's): render from our own,
                // unpublished recorder rather than failing.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Middleware: request latency by route (the matched pattern, never the raw path).
pub async fn track_latency(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(
        names::REQUEST_DURATION,
        "route" => route,
        "method" => method,
        "status" => res.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    res
}
