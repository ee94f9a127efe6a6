//! The phase of one connection and its deadline (see the parent module).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

const HEAD: u8 = 0;
const REQUEST: u8 = 1;
const IDLE: u8 = 2;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Which limit a connection ran past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    Head,
    Idle,
    Request,
}

/// A connection's phase, shared by its reader, its service and its watchdog.
#[derive(Clone)]
pub struct Phases(Arc<Inner>);

struct Inner {
    origin: Instant,
    phase: AtomicU8,
    /// When the phase began, in nanoseconds since `origin`.
    since: AtomicU64,
    /// Wakes the watchdog when a change of phase moves the deadline before the time it
    /// sleeps until (`armed`); later deadlines are found when it wakes, so a busy
    /// keep-alive connection costs the watchdog nothing per request.
    notify: Notify,
    /// When the watchdog will wake, in nanoseconds since `origin`.
    armed: AtomicU64,
    /// The answer's body ended; the connection turns idle once it is flushed to the
    /// socket (a client that does not read its answer stays in the request phase).
    flush_pending: AtomicBool,
    /// A timeout answer (408, 503) was given: the close that follows is counted there.
    timeout_answered: AtomicBool,
    head: Duration,
    idle: Duration,
    request: Duration,
}

impl Phases {
    /// A new connection: reading its first head from now.
    pub fn new(head: Duration, idle: Duration, request: Duration) -> Phases {
        Phases(Arc::new(Inner {
            origin: Instant::now(),
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
            notify: Notify::new(),
            armed: AtomicU64::new(u64::MAX),
            flush_pending: AtomicBool::new(false),
            timeout_answered: AtomicBool::new(false),
            head,
            idle,
            request,
        }))
    }

    fn set(&self, phase: u8) {
        let i = &self.0;
        let now = u64::try_from(i.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        i.since.store(now, Ordering::Relaxed);
        i.phase.store(phase, Ordering::Relaxed);
        let deadline = now.saturating_add(nanos(self.limit(phase)));
        if deadline < i.armed.load(Ordering::Relaxed) {
            i.notify.notify_one();
        }
    }

    fn limit(&self, phase: u8) -> Duration {
        match phase {
            HEAD => self.0.head,
            REQUEST => self.0.request,
            _ => self.0.idle,
        }
    }

    /// The current deadline, recorded as the time the watchdog sleeps until.
    pub fn arm(&self) -> Instant {
        let deadline = self.deadline();
        let at = nanos(deadline.saturating_duration_since(self.0.origin));
        self.0.armed.store(at, Ordering::Relaxed);
        deadline
    }

    /// Bytes arrived: an idle connection starts reading its next head.
    fn bytes_read(&self) {
        if self.0.phase.load(Ordering::Relaxed) == IDLE {
            self.set(HEAD);
        }
    }

    /// The answer's body ended; idle once flushed.
    fn body_sent(&self) {
        self.0.flush_pending.store(true, Ordering::Relaxed);
    }

    /// A flush completed: an answer whose body ended is now with the client.
    fn flushed(&self) {
        if self.0.flush_pending.swap(false, Ordering::Relaxed) {
            self.request_finished();
        }
    }

    /// A 408 or 503 was answered (and counted) for the request under way.
    pub fn timeout_answered(&self) {
        self.0.timeout_answered.store(true, Ordering::Relaxed);
    }

    /// Whether the connection's timeout was already answered and counted.
    pub fn was_timeout_answered(&self) -> bool {
        self.0.timeout_answered.load(Ordering::Relaxed)
    }

    /// A complete head: the request runs.
    pub fn request_started(&self) {
        self.0.flush_pending.store(false, Ordering::Relaxed);
        self.set(REQUEST);
    }

    /// The answer's body ended: idle until the next request.
    pub fn request_finished(&self) {
        self.set(IDLE);
    }

    /// When the current phase runs out.
    pub fn deadline(&self) -> Instant {
        let i = &self.0;
        let since = i.origin + Duration::from_nanos(i.since.load(Ordering::Relaxed));
        since + self.limit(i.phase.load(Ordering::Relaxed))
    }

    /// The limit the connection ran past, if it did.
    pub fn expired(&self) -> Option<Expired> {
        if Instant::now() < self.deadline() {
            return None;
        }
        Some(match self.0.phase.load(Ordering::Relaxed) {
            HEAD => Expired::Head,
            REQUEST => Expired::Request,
            _ => Expired::Idle,
        })
    }

    /// Resolves when a deadline may have moved earlier.
    pub async fn changed(&self) {
        self.0.notify.notified().await;
    }
}

/// The connection's socket, noting when bytes arrive.
pub struct PhaseIo<T> {
    inner: T,
    phases: Phases,
}

impl<T> PhaseIo<T> {
    pub fn new(inner: T, phases: Phases) -> PhaseIo<T> {
        PhaseIo { inner, phases }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for PhaseIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.phases.bytes_read();
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PhaseIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let res = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(res, Poll::Ready(Ok(()))) {
            self.phases.flushed();
        }
        res
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// An answer's body that tells the connection when it ends (or is dropped): the
/// connection turns idle once that end is flushed.
pub struct EndBody {
    inner: Body,
    phases: Phases,
    ended: bool,
}

impl EndBody {
    pub fn new(inner: Body, phases: Phases) -> EndBody {
        EndBody {
            inner,
            phases,
            ended: false,
        }
    }

    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            self.phases.body_sent();
        }
    }
}

impl Drop for EndBody {
    fn drop(&mut self) {
        self.end();
    }
}

impl http_body::Body for EndBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let res = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(res, Poll::Ready(None)) {
            self.end();
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that records whether the handler waits for it and when it has
/// been read to its end.
pub struct TrackedBody {
    inner: Body,
    state: Arc<BodyState>,
}

/// What a [`TrackedBody`] records.
#[derive(Default)]
pub struct BodyState {
    polled: AtomicBool,
    done: AtomicBool,
}

impl BodyState {
    /// The handler is waiting for a body that has not arrived whole: the client is the
    /// slow side.
    pub fn client_is_late(&self) -> bool {
        self.polled.load(Ordering::Relaxed) && !self.done.load(Ordering::Relaxed)
    }
}

impl TrackedBody {
    /// The body, and what it records.
    pub fn new(inner: Body) -> (TrackedBody, Arc<BodyState>) {
        let state = Arc::new(BodyState::default());
        state
            .done
            .store(http_body::Body::is_end_stream(&inner), Ordering::Relaxed);
        (
            TrackedBody {
                inner,
                state: state.clone(),
            },
            state,
        )
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        self.state.polled.store(true, Ordering::Relaxed);
        let res = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(res, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.state.done.store(true, Ordering::Relaxed);
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_has_its_own_limit() {
        let p = Phases::new(
            Duration::from_secs(10),
            Duration::from_secs(60),
            Duration::from_secs(31),
        );
        let start = p.deadline();
        assert!(p.expired().is_none());
        p.request_started();
        assert!(p.deadline() >= start + Duration::from_secs(20));
        p.body_sent();
        assert!(
            p.deadline() < start + Duration::from_secs(32),
            "not idle before the flush"
        );
        p.flushed();
        let idle = p.deadline();
        assert!(idle >= start + Duration::from_secs(49));
        // The first byte of the next request: the head limit again, from now.
        p.bytes_read();
        assert!(p.deadline() < idle);
        let zero = Phases::new(Duration::ZERO, Duration::ZERO, Duration::ZERO);
        assert_eq!(zero.expired(), Some(Expired::Head));
        zero.request_finished();
        assert_eq!(zero.expired(), Some(Expired::Idle));
        zero.request_started();
        assert_eq!(zero.expired(), Some(Expired::Request));
    }
}
