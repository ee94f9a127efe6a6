//! The envelope every request passes through: request id, CORS, the Origin check,
//! `Cache-Control: no-store`, the request log line and the latency metric.
//!
//! One service instead of a stack of tower layers, because hyper clones the service
//! for every request: a stack of seven layers (CORS alone holds several `Vec`s) cost
//! a large share of a session check's instructions in clones, boxes and drops (README,
//! Performance). Cloning
//! this one is an `Arc` increment plus the router's own `Arc`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, header};
use axum::response::IntoResponse;
use tracing::Span;

use crate::error::AppError;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,POST");
const ALLOW_HEADERS: HeaderValue =
    HeaderValue::from_static("content-type,authorization,x-turnstile-token");
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("origin");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// What the envelope knows: the allowed origins and the route patterns (for metric
/// labels, which must never be raw paths).
pub struct EnvelopeConfig {
    allowed_origins: Box<[HeaderValue]>,
    routes: RouteLabels,
}

impl EnvelopeConfig {
    pub fn new<'a>(
        allowed_origins: &[String],
        route_patterns: impl IntoIterator<Item = &'a str>,
    ) -> EnvelopeConfig {
        EnvelopeConfig {
            allowed_origins: allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect(),
            routes: RouteLabels::new(route_patterns),
        }
    }

    /// The request's `Origin` when it is one of the allowed origins (exact match).
    fn allowed_origin(&self, headers: &axum::http::HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        self.allowed_origins
            .iter()
            .any(|a| a == origin)
            .then(|| origin.clone())
    }
}

/// Wraps the whole router (not each route) in the envelope.
#[derive(Clone)]
pub struct Envelope<S> {
    inner: S,
    cfg: Arc<EnvelopeConfig>,
}

impl<S> Envelope<S> {
    pub fn new(inner: S, cfg: EnvelopeConfig) -> Envelope<S> {
        Envelope {
            inner,
            cfg: Arc::new(cfg),
        }
    }
}

/// The Origin check of docs/api.md §6, the first check a POST meets (ahead of content
/// type, size and parsing). A POST whose `Origin` is present and not allowed (`null`
/// included), or that says `Sec-Fetch-Site: cross-site` without an allowed `Origin`, is
/// refused before any side effect. Requests without `Origin` (curl, servers) pass.
/// OWASP ASVS 5.0 V3.5 (cross-site request forgery).
fn origin_refused(method: &Method, headers: &axum::http::HeaderMap, allowed: bool) -> bool {
    if method != Method::POST || allowed {
        return false;
    }
    match headers.get(header::ORIGIN) {
        Some(_) => true,
        None => headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site")),
    }
}

/// Per-request facts carried to the response.
struct Ticket {
    started: Instant,
    request_id: HeaderValue,
    allowed_origin: Option<HeaderValue>,
    preflight: bool,
    route: &'static str,
    method: &'static str,
}

impl<S> tower::Service<Request<Body>> for Envelope<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = EnvelopeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let started = Instant::now();
        // A caller's request id is kept (it ties our log line to theirs); otherwise a
        // fresh one. Header values cannot hold line breaks, so it cannot forge lines.
        let request_id = match req.headers().get(&X_REQUEST_ID) {
            Some(v) => v.clone(),
            None => {
                let v = new_request_id();
                req.headers_mut().insert(X_REQUEST_ID, v.clone());
                v
            }
        };
        // Spans carry the request id, method and path only: query strings hold
        // one-time tokens, which must never reach a log line.
        let span = tracing::info_span!(
            "request",
            request_id = request_id.to_str().unwrap_or(""),
            method = %req.method(),
            path = %req.uri().path(),
        );
        let allowed_origin = self.cfg.allowed_origin(req.headers());
        let method = method_label(req.method());
        let route = self.cfg.routes.label(req.uri().path());
        let preflight = req.method() == Method::OPTIONS;
        let ticket = Ticket {
            started,
            request_id,
            preflight,
            route,
            method,
            allowed_origin,
        };
        let state = if preflight {
            // Every OPTIONS is answered here, as a CORS preflight.
            State::Ready {
                res: Some(Response::new(Body::empty())),
            }
        } else if origin_refused(req.method(), req.headers(), ticket.allowed_origin.is_some()) {
            State::Ready {
                res: Some(AppError::invalid_origin().into_response()),
            }
        } else {
            let _entered = span.enter();
            State::Inner {
                fut: self.inner.call(req),
            }
        };
        EnvelopeFuture {
            state,
            span,
            ticket: Some(ticket),
        }
    }
}

pin_project_lite::pin_project! {
    /// The envelope's response future: the router's, or a response decided up front.
    pub struct EnvelopeFuture<F> {
        #[pin]
        state: State<F>,
        span: Span,
        ticket: Option<Ticket>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Ready { res: Option<Response<Body>> },
        Inner { #[pin] fut: F },
    }
}

impl<F> Future for EnvelopeFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let res = match this.state.project() {
            StateProj::Ready { res } => res.take(),
            StateProj::Inner { fut } => match fut.poll(cx) {
                Poll::Ready(Ok(res)) => Some(res),
                Poll::Pending => return Poll::Pending,
            },
        };
        let (Some(mut res), Some(ticket)) = (res, this.ticket.take()) else {
            // Polled again after completion: a caller bug; answer without panicking.
            return Poll::Ready(Ok(AppError::internal(anyhow::anyhow!(
                "response polled twice"
            ))
            .into_response()));
        };
        finish(&mut res, &ticket);
        Poll::Ready(Ok(res))
    }
}

/// Response headers of the envelope, then the log line and the latency metric.
fn finish(res: &mut Response<Body>, t: &Ticket) {
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    // Every answer (docs/api.md §6): no browser may guess another type than the one sent.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    if !headers.contains_key(&X_REQUEST_ID) {
        headers.insert(X_REQUEST_ID, t.request_id.clone());
    }
    // CORS (docs/api.md §6): only an allowed origin is named; `Vary: Origin` always, so
    // a shared cache never hands one origin's answer to another.
    headers.append(header::VARY, VARY_ORIGIN);
    if let Some(origin) = &t.allowed_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        if t.preflight {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
        }
    }
    let elapsed = t.started.elapsed();
    let status = res.status().as_u16();
    tracing::info!(
        latency = %format_args!("{} ms", elapsed.as_millis()),
        status,
        "finished processing request"
    );
    crate::telemetry::record_request(t.route, t.method, status, elapsed.as_secs_f64());
}

/// Request ids: 128 random bits from a fast thread-local generator, as a UUID.
fn new_request_id() -> HeaderValue {
    use rand::RngExt;
    let bits: u128 = rand::rng().random();
    let mut buf = uuid::Uuid::encode_buffer();
    let id = uuid::Builder::from_random_bytes(bits.to_le_bytes())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    }
}

/// Maps a request path to its route pattern (`/auth/callback/{provider}`), or
/// `unmatched`: metric labels stay a small, fixed set whatever clients send.
struct RouteLabels {
    exact: HashMap<&'static str, &'static str>,
    /// Patterns ending in one `{param}` segment: (prefix before it, pattern).
    one_param: Vec<(&'static str, &'static str)>,
}

impl RouteLabels {
    fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> RouteLabels {
        let mut exact = HashMap::new();
        let mut one_param = Vec::new();
        for p in patterns {
            let p = crate::telemetry::intern(p);
            match p.find('{') {
                None => {
                    exact.insert(p, p);
                }
                Some(i) if p.ends_with('}') && !p[i..].contains('/') => {
                    one_param.push((&p[..i], p));
                }
                // Other shapes do not occur in latch's routes; they count as unmatched.
                Some(_) => {}
            }
        }
        RouteLabels { exact, one_param }
    }

    fn label(&self, path: &str) -> &'static str {
        if let Some(l) = self.exact.get(path) {
            return l;
        }
        for (prefix, pattern) in &self.one_param {
            if let Some(rest) = path.strip_prefix(prefix)
                && !rest.is_empty()
                && !rest.contains('/')
            {
                return pattern;
            }
        }
        "unmatched"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_patterns_never_raw_paths() {
        let r = RouteLabels::new(["/auth/session", "/auth/callback/{provider}", "/"]);
        assert_eq!(r.label("/auth/session"), "/auth/session");
        assert_eq!(r.label("/"), "/");
        assert_eq!(
            r.label("/auth/callback/github"),
            "/auth/callback/{provider}"
        );
        assert_eq!(r.label("/auth/callback/"), "unmatched");
        assert_eq!(r.label("/auth/callback/a/b"), "unmatched");
        assert_eq!(r.label("/auth/session/x"), "unmatched");
    }

    #[test]
    fn the_origin_check_refuses_foreign_and_cross_site_posts_only() {
        let mut h = axum::http::HeaderMap::new();
        assert!(!origin_refused(&Method::POST, &h, false));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(origin_refused(&Method::POST, &h, false));
        assert!(!origin_refused(&Method::GET, &h, false));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(origin_refused(&Method::POST, &h, false));
        assert!(!origin_refused(&Method::POST, &h, true));
    }
}
