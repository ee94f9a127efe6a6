//! The whole-request deadline (contract §1 `LATCH_REQUEST_TIMEOUT_SECS`, §3).
//!
//! When the deadline passes and the request's body is still not complete, the client
//! is the slow side: 408 `REQUEST_TIMEOUT`, and the handler (which has done nothing
//! yet: every handler reads its whole body before acting) is dropped. When the body
//! was complete, latch is the slow side (a pool wait, the hashing queue): 503
//! `UNAVAILABLE`, and the handler is not cancelled but finishes in the background, so
//! nothing is left half-done (a late sign-up exists whole, or not at all). Either
//! answer closes the connection.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use tower::Service;

use super::phase::{EndBody, Phases, TrackedBody};
use crate::envelope::Envelope;
use crate::error::AppError;

/// The boxed future of one request under its deadline.
pub type DeadlineFuture =
    Pin<Box<dyn Future<Output = Result<Response<EndBody>, Infallible>> + Send>>;

/// The deadline of one request.
pub struct Deadline {
    timeout: Duration,
}

impl Deadline {
    pub fn new(timeout: Duration) -> Deadline {
        Deadline { timeout }
    }

    /// Runs `req` through `app` under the deadline.
    pub fn run(
        self,
        mut app: Envelope<Router>,
        req: Request<Body>,
        phases: Phases,
    ) -> DeadlineFuture {
        let (parts, body) = req.into_parts();
        let (body, body_done) = TrackedBody::new(body);
        let req = Request::from_parts(parts, Body::new(body));
        let mut handler = Box::pin(app.call(req));
        let timeout = self.timeout;
        Box::pin(async move {
            let res = match tokio::time::timeout(timeout, &mut handler).await {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(_) if !body_done.load(Ordering::Relaxed) => {
                    closing(AppError::request_timeout().into_response())
                }
                Err(_) => {
                    tokio::spawn(async move {
                        let _ = handler.await;
                    });
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
