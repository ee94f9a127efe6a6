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

use super::phase::{EndBody, Phases, TrackedBody};
use crate::envelope::Envelope;
use crate::error::AppError;

/// The boxed future of one request under its deadline.
pub type DeadlineFuture =
    Pin<Box<dyn Future<Output = Result<Response<EndBody>, Infallible>> + Send>>;

/// Handlers that outlived their request's deadline and finish in the background.
#[derive(Clone, Default)]
pub struct Detached(Arc<(AtomicUsize, Notify)>);

impl Detached {
    fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let this = self.clone();
        this.0.0.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            work.await;
            this.0.0.fetch_sub(1, Ordering::SeqCst);
            this.0.1.notify_waiters();
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

/// The deadline of one request.
pub struct Deadline {
    timeout: Duration,
    detached: Detached,
}

impl Deadline {
    pub fn new(timeout: Duration, detached: Detached) -> Deadline {
        Deadline { timeout, detached }
    }

    /// Runs `req` through `app` under the deadline.
    pub fn run(
        self,
        mut app: Envelope<Router>,
        req: Request<Body>,
        phases: Phases,
    ) -> DeadlineFuture {
        let (parts, body) = req.into_parts();
        let (body, body_state) = TrackedBody::new(body);
        let req = Request::from_parts(parts, Body::new(body));
        let mut handler = Box::pin(app.call(req));
        let Deadline { timeout, detached } = self;
        Box::pin(async move {
            let res = match tokio::time::timeout(timeout, &mut handler).await {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(_) if body_state.client_is_late() => {
                    phases.timeout_answered();
                    closing(AppError::request_timeout().into_response())
                }
                Err(_) => {
                    detached.spawn(async move {
                        let _ = handler.await;
                    });
                    phases.timeout_answered();
                    closing(AppError::unavailable(1).into_response())
                }
            };
            Ok(res.map(|b| EndBody::new(b, phases)))
        })
    }
}

/// An answer decided here, outside the envelope: the headers every answer carries,
/// and `Connection: close`.
fn closing(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    metrics::counter!(crate::telemetry::names::CONNECTIONS_CLOSED, "reason" => "request_timeout")
        .increment(1);
    res
}
