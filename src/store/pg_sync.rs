//! The settle protocol of a PostgreSQL instance: what makes a change seen by the very
//! next check on every instance (its listener and sender are in `pg_listener`).
//!
//! Notifications reach each instance's listener asynchronously: an instance could
//! answer a logout before another instance's listener has dropped the session it
//! remembers. So a request that used the database answers only after
//! [`Sync::settle`]: it notifies a marker after its writes committed and waits until
//! every instance that may be remembering answers has acknowledged it. Each listener
//! handles notifications in commit order and acknowledges a marker only after
//! handling it, so an acknowledgement means every change committed before the marker
//! is forgotten there.
//!
//! Who is waited for: the channel's messages form one total order, seen alike by every
//! listener. An instance starts remembering answers only once its own hello came back
//! through its own listener; the instances waited for are those whose hello (or
//! heartbeat) came before the marker, taken when the marker comes back. So an instance
//! that joins later started remembering after the marker, after the writes.
//!
//! An instance whose own heartbeat has not come back for [`FENCE_AFTER`] no longer
//! uses what it remembers (checked on every answer, so even a stalled listener thread
//! fences itself), and its listener (`pg_listener`) reconnects once [`PEER_GONE_AFTER`]
//! passed without its heartbeat (a half-open connection never errors); the others stop
//! waiting for one unheard of for [`PEER_GONE_AFTER`], which is longer than the fence,
//! or at its goodbye. A settle waits at most [`SETTLE_WITHIN`], no shorter than an
//! answer's life, so one that gives up has outwaited every answer it could not vouch
//! for.
//!
//! Messages besides the triggers' (`pg_cache`): `h:<instance>:<epoch>` (hello and
//! heartbeat of a listening connection), `g:<instance>:<epoch>` (that connection is gone:
//! it remembers nothing), `m:<instance>:<n>` (a marker), `a:<instance>:<n>:<by>` (`by`
//! acknowledges that instance's marker `n`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::pg_cache::{FRESH_FOR, SessionCache, mono_ms};

/// The channel the triggers of migration 0008 notify.
pub const CHANNEL: &str = "latch_sessions";
/// The longest a request that used the database waits for the acknowledgements.
const SETTLE_WITHIN: Duration = Duration::from_secs(1);
const _: () = assert!(SETTLE_WITHIN.as_millis() >= FRESH_FOR.as_millis());
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);
/// An instance whose own heartbeat has not come back this long stops remembering.
const FENCE_AFTER: Duration = Duration::from_secs(1);
/// An instance unheard of this long is no longer waited for (it has fenced itself).
pub(super) const PEER_GONE_AFTER: Duration = Duration::from_millis(1600);
const _: () = assert!(PEER_GONE_AFTER.as_millis() > FENCE_AFTER.as_millis() + 500);
/// The wait before connecting again after a drop.
pub(super) const RECONNECT_AFTER: Duration = Duration::from_millis(200);

struct Peer {
    epoch: u64,
    heard_at: Instant,
    /// The newest of this instance's markers it acknowledged.
    acked: u64,
}

#[derive(Default)]
struct State {
    /// This instance's markers being settled, each with the instances to wait for
    /// (and the connection each was on) once the marker came back.
    pending: HashMap<u64, Option<Vec<(u64, u64)>>>,
    /// The connection epoch whose hello came back, and when its last heartbeat did.
    own_epoch: u64,
    /// When the newest own heartbeat handled was sent (ms since the epoch): a
    /// listener whose newest is old is behind or cut off, and fences itself.
    own_sent_ms: Option<u64>,
    /// When the own hello of the current connection came back.
    listening_since: Option<Instant>,
    others: HashMap<u64, Peer>,
}

/// What the listener does with a message.
pub(super) enum Handled {
    /// A trigger's: forget what it names.
    Forget,
    /// Another instance's marker: acknowledge it.
    Ack(u64, u64),
    /// This connection's own hello: start remembering.
    OwnHello(u64),
    Done,
}

/// A settle's marker, registered before it is sent and removed however the settle
/// ends (a request dropped mid-settle included).
struct Pending<'a> {
    sync: &'a Sync,
    n: u64,
}

impl<'a> Pending<'a> {
    fn new(sync: &'a Sync, n: u64) -> Pending<'a> {
        if let Ok(mut s) = sync.state.lock() {
            s.pending.insert(n, None);
        }
        Pending { sync, n }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.sync.state.lock() {
            s.pending.remove(&self.n);
        }
    }
}

/// This instance's part in the settle protocol.
pub struct Sync {
    pub(super) instance: u64,
    /// Tests (tests/postgres): how long this instance's listener dawdles over each
    /// message, to play a slow peer. Zero, so nothing, unless a test sets it.
    pub dawdle: std::sync::Arc<AtomicU64>,
    next_marker: AtomicU64,
    state: Mutex<State>,
    /// Moves whenever a marker or an acknowledgement arrives.
    progress: watch::Sender<u64>,
}

impl Sync {
    pub fn new() -> Sync {
        Sync {
            instance: rand::random(),
            dawdle: std::sync::Arc::new(AtomicU64::new(0)),
            next_marker: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            progress: watch::Sender::new(0),
        }
    }

    /// Waits until every instance that may remember answers has handled what this
    /// instance committed so far (see the module's comment).
    pub async fn settle(&self, cache: &SessionCache, pool: &sqlx::AnyPool) {
        let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
        let mut progress = self.progress.subscribe();
        let n = self.next_marker.fetch_add(1, Ordering::Relaxed);
        let _pending = Pending::new(self, n);
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("m:{}:{n}", self.instance))
            .execute(pool)
            .await;
        if sent.is_err() || !cache.is_listening() {
            // No vouching possible: outwait every answer remembered anywhere.
            return tokio::time::sleep_until(deadline).await;
        }
        let finished = tokio::time::timeout_at(deadline, async {
            loop {
                let done = self.state.lock().is_ok_and(|s| {
                    // The marker is not back yet.
                    let Some(Some(waiting_for)) = s.pending.get(&n) else {
                        return false;
                    };
                    // Listening for less than the silence after which a peer counts as
                    // gone: a peer may be remembering answers unheard of yet.
                    if s.listening_since
                        .is_none_or(|t| t.elapsed() < PEER_GONE_AFTER)
                    {
                        return false;
                    }
                    // Done with a peer that acknowledged, fell silent, or connected
                    // anew after the marker: that one forgot everything when its old
                    // connection dropped, and remembers only what it read after its
                    // new hello came back, which is after the marker, after the writes.
                    waiting_for.iter().all(|(id, epoch)| {
                        s.others.get(id).is_none_or(|p| {
                            p.acked >= n
                                || p.epoch > *epoch
                                || p.heard_at.elapsed() >= PEER_GONE_AFTER
                        })
                    })
                });
                if done || progress.changed().await.is_err() {
                    return done;
                }
            }
        })
        .await;
        if !matches!(finished, Ok(true)) {
            // A new listener (its peers not all heard of yet) or an instance that did
            // not acknowledge: the bound is waited out, which is correct either way.
            tracing::debug!("a settle waited its whole bound");
            tokio::time::sleep_until(deadline).await;
        }
    }

    fn handle(&self, payload: &str) -> Handled {
        let mut parts = payload.split(':');
        let kind = parts.next().unwrap_or_default();
        let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let Ok(mut s) = self.state.lock() else {
            return Handled::Done;
        };
        let handled = match (kind, number(), number(), number()) {
            ("h", Some(id), Some(epoch), sent) if id == self.instance => {
                s.own_sent_ms = s.own_sent_ms.max(sent);
                if epoch > s.own_epoch {
                    s.own_epoch = epoch;
                    s.listening_since = Some(Instant::now());
                    Handled::OwnHello(epoch)
                } else {
                    Handled::Done
                }
            }
            ("h", Some(id), Some(epoch), _) => {
                let p = s.others.entry(id).or_insert(Peer {
                    epoch,
                    heard_at: Instant::now(),
                    acked: 0,
                });
                p.epoch = p.epoch.max(epoch);
                p.heard_at = Instant::now();
                Handled::Done
            }
            ("g", Some(id), Some(epoch), _) => {
                // A goodbye older than the connection since announced changes nothing.
                if s.others.get(&id).is_some_and(|p| p.epoch <= epoch) {
                    s.others.remove(&id);
                }
                Handled::Done
            }
            ("m", Some(id), Some(n), _) if id == self.instance => {
                // The marker is back: the instances heard of before it, taken now,
                // in the channel's order.
                let heard: Vec<(u64, u64)> = s
                    .others
                    .iter()
                    .filter(|(_, p)| p.heard_at.elapsed() < PEER_GONE_AFTER)
                    .map(|(id, p)| (*id, p.epoch))
                    .collect();
                if let Some(slot) = s.pending.get_mut(&n) {
                    *slot = Some(heard);
                }
                Handled::Done
            }
            ("m", Some(id), Some(n), _) => Handled::Ack(id, n),
            ("a", Some(id), Some(n), Some(by)) => {
                if id == self.instance
                    && let Some(p) = s.others.get_mut(&by)
                {
                    p.acked = p.acked.max(n);
                }
                Handled::Done
            }
            // The triggers' (`s:`, `u:`, `*`), and anything unknown: forgetting is safe.
            _ => Handled::Forget,
        };
        drop(s);
        self.progress.send_modify(|v| *v += 1);
        handled
    }

    /// Waits (within `limit`) until this instance has listened long enough to know
    /// every other instance that remembers answers: `serve` waits for it before it
    /// serves, so its first writing requests need not outwait the bound.
    pub async fn know_peers(&self, cache: &SessionCache, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            let known = cache.is_listening()
                && self.state.lock().is_ok_and(|s| {
                    s.listening_since
                        .is_some_and(|t| t.elapsed() >= PEER_GONE_AFTER)
                });
            if known {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`Sync::handle`], then vouches for the cache up to the newest own heartbeat.
    pub(super) fn handle_and_vouch(&self, payload: &str, cache: &SessionCache) -> Handled {
        let handled = self.handle(payload);
        if let Some(sent) = self.state.lock().ok().and_then(|s| s.own_sent_ms) {
            cache.vouch(sent, FENCE_AFTER);
        }
        handled
    }

    /// Whether the own heartbeat came back lately (false once it is overdue).
    pub(super) fn heard_own(&self) -> bool {
        let fence_ms = u64::try_from(FENCE_AFTER.as_millis()).unwrap_or(u64::MAX);
        self.state.lock().is_ok_and(|s| {
            s.own_sent_ms
                .is_some_and(|t| mono_ms().saturating_sub(t) < fence_ms)
        })
    }
}
