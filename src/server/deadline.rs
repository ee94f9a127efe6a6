//! The whole-request deadline (docs/api.md §1 `LATCH_REQUEST_TIMEOUT_SECS`, §3).
//!
//! When the deadline passes while the handler waits for a body that has not arrived
//! whole, the client is the slow side: 408 `REQUEST_TIMEOUT`, and the handler is
//! dropped (a handler that takes a body reads all of it before acting, so it has done
//! nothing yet). Otherwise latch is the slow side (a pool wait, the hashing queue):
//! 503 `UNAVAILABLE`, and the handler is not cancelled but finishes in the background,
//! counted by [`Detached`] so that shutdown waits for it: nothing is left half-done
//! (a late sign-up exists whole, or not at all). Either answer closes the connection.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;
use tower::Service;

use super::phase::TrackedBody;
use crate::error::AppError;

/// Counts a detached handler down when it ends.
struct Done(Detached);

impl Drop for Done {
    fn drop(&mut self) {
        (self.0).0.0.fetch_sub(1, Ordering::SeqCst);
        (self.0).0.1.notify_waiters();
    }
}

/// Handlers that outlived their request's deadline and finish in the background.
#[derive(Clone, Default)]
pub struct Detached(Arc<(AtomicUsize, Notify)>);

impl Detached {
    fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        // Counted down when the task ends, even by a panic.
        let done = Done(self.clone());
        tokio::spawn(async move {
            let _done = done;
            work.await;
        });
    }

    /// Resolves once every detached handler has finished.
    pub async fn drained(&self) {
        loop {
            let notified = self.0.1.notified();
            if self.0.0.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Marks an answer given by the deadline (the connection closes after it).
#[derive(Clone, Copy)]
pub struct TimedOut;

/// The router under the request deadline. It sits inside the envelope, so a 408 or
/// 503 carries the headers, the log line and the metric of any other answer.
#[derive(Clone)]
pub struct Deadlined {
    inner: Router,
    timeout: Duration,
    detached: Detached,
}

impl Deadlined {
    pub fn new(inner: Router, timeout: Duration, detached: Detached) -> Deadlined {
        Deadlined {
            inner,
            timeout,
            detached,
        }
    }
}

impl Service<Request<Body>> for Deadlined {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let (body, body_state) = TrackedBody::new(body);
        let req = Request::from_parts(parts, Body::new(body));
        let mut handler = Box::pin(self.inner.call(req));
        let (timeout, detached) = (self.timeout, self.detached.clone());
        Box::pin(async move {
            Ok(match tokio::time::timeout(timeout, &mut handler).await {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(_) if body_state.client_is_late() => {
                    closing(AppError::request_timeout().into_response())
                }
                Err(_) => {
                    detached.spawn(async move {
                        let _ = handler.await;
                    });
                    closing(AppError::unavailable(1).into_response())
                }
            })
        })
    }
}

/// A timeout answer: the connection closes after it, and it is counted here.
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res.extensions_mut().insert(TimedOut);
    metrics::counter!(crate::telemetry::names::CONNECTIONS_CLOSED, "reason" => "request_timeout")
        .increment(1);
    res
}
