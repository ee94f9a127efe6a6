//! Logs and metrics.
//!
//! Logs are `tracing` events, as text or JSON (`LATCH_LOG_FORMAT=json`); each request
//! has a span with its request id, method and path (never the query string, which can
//! carry one-time tokens). Metrics use the `metrics` facade and are rendered in the
//! Prometheus text format at `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Names of the metrics latch records.
pub mod names {
    pub const SIGN_UPS: &str = "latch_sign_ups_total";
    pub const SIGN_INS: &str = "latch_sign_ins_total";
    pub const LOCKOUTS: &str = "latch_lockouts_total";
    pub const TWO_FACTOR_LOCKS: &str = "latch_two_factor_locks_total";
    /// Open HTTP connections (gauge).
    pub const OPEN_CONNECTIONS: &str = "latch_open_connections";
    /// Connections latch closed, by `reason`: `header_timeout`, `idle_timeout`,
    /// `request_timeout`.
    pub const CONNECTIONS_CLOSED: &str = "latch_connections_closed_total";
    /// Failed accepts (out of file descriptors, say), each retried.
    pub const ACCEPT_ERRORS: &str = "latch_accept_errors_total";
    /// argon2id verifications (dummy ones included): the hashing work sign-ins cost.
    pub const PASSWORD_VERIFICATIONS: &str = "latch_password_verifications_total";
    pub const EMAILS: &str = "latch_emails_total";
    /// Session queries answered without the GraphQL executor (`graphql/fast.rs`).
    pub const GRAPHQL_FAST_ANSWERS: &str = "latch_graphql_fast_answers_total";
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

/// Records one request's latency under its route pattern, method and status. Labels
/// are static strings and the histogram handles are kept per thread, so recording
/// allocates nothing and takes no lock after a label set's first request.
pub fn record_request(route: &'static str, method: &'static str, status: u16, secs: f64) {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Labels = (&'static str, &'static str, u16);
    thread_local! {
        static HANDLES: RefCell<HashMap<Labels, metrics::Histogram>> = RefCell::new(HashMap::new());
    }
    HANDLES.with(|h| {
        h.borrow_mut()
            .entry((route, method, status))
            .or_insert_with(|| {
                metrics::histogram!(
                    names::REQUEST_DURATION,
                    "route" => route,
                    "method" => method,
                    "status" => status_label(status),
                )
            })
            .record(secs);
    });
}

/// The route patterns are a fixed, small set: each is leaked once and reused.
pub(crate) fn intern(route: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::RwLock;
    static ROUTES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes.read().ok().and_then(|set| set.get(route).copied()) {
        return r;
    }
    let mut set = match routes.write() {
        Ok(set) => set,
        Err(_) => return "unmatched",
    };
    if let Some(r) = set.get(route) {
        return r;
    }
    let leaked: &'static str = Box::leak(route.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        204 => "204",
        302 => "302",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        423 => "423",
        429 => "429",
        500 => "500",
        503 => "503",
        c if c < 300 => "2xx",
        c if c < 400 => "3xx",
        c if c < 500 => "4xx",
        _ => "5xx",
    }
}
