//! The HTTP/1 server: accepting connections and holding each to the connection rules of
//! docs/api.md §1 and §2 "Slow clients", which `axum::serve` does not have.
//!
//! - At most `LATCH_MAX_CONNECTIONS` open connections: past that latch accepts nothing
//!   (new clients wait in the listen backlog) and keeps serving the ones it has. An
//!   accept that fails (out of file descriptors, say) is logged and retried shortly.
//! - Each connection is in one phase: *reading a head* (from accept, or from the first
//!   byte of a keep-alive connection's next request), *in a request* (head complete,
//!   until the answer's body ends) or *idle* (between requests). A head not complete
//!   within `LATCH_HEADER_TIMEOUT_SECS` and an idle spell longer than
//!   `LATCH_IDLE_TIMEOUT_SECS` close the connection without an answer; a request whose
//!   answer is not flushed to the socket within `LATCH_REQUEST_TIMEOUT_SECS` (and a
//!   grace second: a client that does not read its answer) is closed too. This is the
//!   split Go's `ReadHeaderTimeout`/`IdleTimeout` make. One case is bounded more
//!   loosely: the start of a next request that arrived together with the previous one
//!   (pipelined) sits in hyper's buffer, out of sight, so it is timed as idle time.
//! - Within a request, [`deadline`] answers 408 or 503 at `LATCH_REQUEST_TIMEOUT_SECS`.
//!
//! OWASP ASVS 5.0 V13.1 (resource limits): no client holds a connection, a worker or a
//! file descriptor past these limits.

mod deadline;
mod phase;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::envelope::Envelope;
use crate::telemetry::names;

pub use deadline::{Deadlined, Detached};

/// The application a connection serves: the envelope around the router under the
/// request deadline.
pub type App = Envelope<Deadlined>;
use phase::{Expired, PhaseIo, Phases};

/// The connection rules.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn from_config(cfg: &crate::config::Config) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(cfg.header_timeout_secs),
            request_timeout: Duration::from_secs(cfg.request_timeout_secs),
            idle_timeout: Duration::from_secs(cfg.idle_timeout_secs),
            max_connections: cfg.max_connections,
        }
    }
}

/// A failed accept is retried after this pause (EMFILE does not clear at once).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long past the request deadline a connection may still be writing its answer.
const WRITE_GRACE: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets
/// every connection finish the request it is in, and returns when all are closed.
///
/// `detached` is the tracker the app's [`Deadlined`] was built with: handlers that
/// outlived their deadline are waited for too.
pub async fn serve(
    listener: TcpListener,
    app: App,
    detached: Detached,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying");
                    metrics::counter!(names::ACCEPT_ERRORS).increment(1);
                    drop(permit);
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            metrics::gauge!(names::OPEN_CONNECTIONS).increment(1.0);
            serve_connection(stream, peer, app, limits, &mut stop).await;
            metrics::gauge!(names::OPEN_CONNECTIONS).decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    // Handlers that outlived their deadline finish too (a sign-up exists whole), for
    // as long as one request may take again; past that, shutdown goes on and says so.
    if tokio::time::timeout(limits.request_timeout, detached.drained())
        .await
        .is_err()
    {
        tracing::warn!("shutting down with handlers still running past their deadline");
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: App,
    limits: ConnectionLimits,
    stop: &mut watch::Receiver<bool>,
) {
    let phases = Phases::new(
        limits.header_timeout,
        limits.idle_timeout,
        limits.request_timeout + WRITE_GRACE,
    );
    let io = TokioIo::new(PhaseIo::new(stream, phases.clone()));
    let service = ConnectionService {
        app,
        peer,
        phases: phases.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // latch's own phases time heads; hyper's timer would count idle time as head time.
    builder.keep_alive(true).header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let wake = phases.arm();
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if let Some(why) = phases.expired() {
                    if why == Expired::Request && phases.was_timeout_answered() {
                        // Counted when the 408 or 503 was answered.
                        return;
                    }
                    let reason = match why {
                        Expired::Head => "header_timeout",
                        Expired::Idle => "idle_timeout",
                        Expired::Request => "request_timeout",
                    };
                    metrics::counter!(names::CONNECTIONS_CLOSED, "reason" => reason).increment(1);
                    tracing::debug!(reason, "closing a connection");
                    return;
                }
            }
            () = phases.changed() => {}
            changed = stop.changed(), if !stopping => {
                if changed.is_ok() && *stop.borrow() {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The per-connection service: hands each request to the app with the peer address,
/// and tracks the connection's phase.
#[derive(Clone)]
struct ConnectionService {
    app: App,
    peer: SocketAddr,
    phases: Phases,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for ConnectionService {
    type Response = axum::response::Response<phase::EndBody>;
    type Error = Infallible;
    type Future = Answer<<App as tower::Service<axum::http::Request<axum::body::Body>>>::Future>;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        self.phases.request_started();
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let mut app = self.app.clone();
        Answer {
            inner: tower::Service::call(&mut app, req),
            phases: Some(self.phases.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// The app's answer, its body tied to the connection's phase.
    struct Answer<F> {
        #[pin]
        inner: F,
        phases: Option<Phases>,
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<axum::response::Response, Infallible>>,
{
    type Output = Result<axum::response::Response<phase::EndBody>, Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let Ok(res) = std::task::ready!(this.inner.poll(cx));
        let phases = this.phases.take().unwrap_or_else(|| {
            // Polled again after completion: an unused phase record, never a panic.
            Phases::new(Duration::ZERO, Duration::ZERO, Duration::ZERO)
        });
        if res.extensions().get::<deadline::TimedOut>().is_some() {
            phases.timeout_answered();
        }
        std::task::Poll::Ready(Ok(res.map(|b| phase::EndBody::new(b, phases))))
    }
}
