//! The notification listener of a PostgreSQL instance, and the settle that makes a
//! change seen by the very next check on every instance.
//!
//! Notifications reach each instance's listener asynchronously: an instance could
//! answer a logout before another instance's listener has dropped the session it
//! remembers. So a request that wrote answers only after [`Sync::settle`]: it notifies
//! a marker after its writes committed and waits until every live instance has
//! acknowledged it. Each listener handles notifications in commit order and
//! acknowledges a marker only after handling it, so an acknowledgement means every
//! change committed before the marker is forgotten there.
//!
//! Messages on the channel besides the triggers' (`pg_cache`): `h:<instance>` (alive
//! and listening, each second), `g:<instance>` (its listener dropped: it remembers
//! nothing now), `m:<instance>:<n>` (a marker), and `a:<instance>:<n>:<by>` (`by`
//! acknowledges that instance's marker `n`). An instance unheard of for
//! [`PEER_GONE_AFTER`] is no longer waited for; a settle waits at most
//! [`SETTLE_WITHIN`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::{mpsc, watch};

use super::pg_cache::SessionCache;

/// The channel the triggers of migration 0008 notify.
pub const CHANNEL: &str = "latch_sessions";
/// The longest a request that wrote waits for the acknowledgements.
const SETTLE_WITHIN: Duration = Duration::from_secs(1);
/// An instance unheard of this long is no longer waited for.
const PEER_GONE_AFTER: Duration = Duration::from_secs(3);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// The wait before connecting again after a drop.
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

/// What the sender task sends for the listener.
enum Outgoing {
    Ack(u64, u64),
    /// The listener dropped.
    Gone,
}

struct Peer {
    heard_at: Instant,
    /// The newest of this instance's markers it acknowledged.
    acked: u64,
}

#[derive(Default)]
struct Peers {
    /// This instance's newest marker its own listener saw.
    own_seen: u64,
    others: HashMap<u64, Peer>,
}

/// This instance's part in the settle protocol.
pub struct Sync {
    instance: u64,
    next_marker: AtomicU64,
    peers: Mutex<Peers>,
    /// Moves whenever a marker or an acknowledgement arrives.
    progress: watch::Sender<u64>,
}

impl Sync {
    pub fn new() -> Sync {
        Sync {
            instance: rand::random(),
            next_marker: AtomicU64::new(1),
            peers: Mutex::new(Peers::default()),
            progress: watch::Sender::new(0),
        }
    }

    /// Waits until every live instance has handled what this instance committed so
    /// far (see the module's comment). Without a listener there is nothing to wait
    /// for: the cache is not used then, and other instances' answers are at most a
    /// second old.
    pub async fn settle(&self, cache: &SessionCache, pool: &sqlx::AnyPool) {
        let deadline = Instant::now() + SETTLE_WITHIN;
        while !cache.is_listening() {
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let n = self.next_marker.fetch_add(1, Ordering::Relaxed);
        let waiting_for: Vec<u64> = match self.peers.lock() {
            Ok(p) => p
                .others
                .iter()
                .filter(|(_, peer)| peer.heard_at.elapsed() < PEER_GONE_AFTER)
                .map(|(id, _)| *id)
                .collect(),
            Err(_) => return,
        };
        let mut progress = self.progress.subscribe();
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("m:{}:{n}", self.instance))
            .execute(pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the settle marker was not sent");
            return;
        }
        let done = || {
            self.peers.lock().is_ok_and(|p| {
                p.own_seen >= n
                    && waiting_for.iter().all(|id| {
                        p.others.get(id).is_none_or(|peer| {
                            peer.acked >= n || peer.heard_at.elapsed() >= PEER_GONE_AFTER
                        })
                    })
            })
        };
        let waited =
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), async {
                while !done() {
                    if progress.changed().await.is_err() {
                        return;
                    }
                }
            })
            .await;
        if waited.is_err() {
            tracing::warn!("a settle waited its whole bound: an instance did not acknowledge");
        }
    }

    /// Handles a protocol message; `None` for the triggers' messages. `Some(Some(..))`:
    /// a marker of another instance, to acknowledge once everything before it is handled.
    fn handle(&self, payload: &str) -> Option<Option<(u64, u64)>> {
        let mut parts = payload.split(':');
        let kind = parts.next()?;
        let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let heard = |p: &mut Peers, id: u64| {
            if id != self.instance {
                p.others
                    .entry(id)
                    .or_insert(Peer {
                        heard_at: Instant::now(),
                        acked: 0,
                    })
                    .heard_at = Instant::now();
            }
        };
        match kind {
            "h" => {
                let id = number()?;
                if let Ok(mut p) = self.peers.lock() {
                    heard(&mut p, id);
                }
                Some(None)
            }
            "g" => {
                let id = number()?;
                if let Ok(mut p) = self.peers.lock() {
                    p.others.remove(&id);
                }
                self.progress.send_modify(|v| *v += 1);
                Some(None)
            }
            "m" => {
                let (id, n) = (number()?, number()?);
                if id != self.instance {
                    if let Ok(mut p) = self.peers.lock() {
                        heard(&mut p, id);
                    }
                    return Some(Some((id, n)));
                }
                if let Ok(mut p) = self.peers.lock() {
                    p.own_seen = p.own_seen.max(n);
                }
                self.progress.send_modify(|v| *v += 1);
                Some(None)
            }
            "a" => {
                let (id, n, by) = (number()?, number()?, number()?);
                if let Ok(mut p) = self.peers.lock() {
                    heard(&mut p, by);
                    if id == self.instance
                        && let Some(peer) = p.others.get_mut(&by)
                    {
                        peer.acked = peer.acked.max(n);
                    }
                }
                self.progress.send_modify(|v| *v += 1);
                Some(None)
            }
            _ => None,
        }
    }
}

/// Starts the listener on a thread of its own, so a busy runtime never delays a
/// notification or an acknowledgement. It runs until `stop` is told to or dropped.
pub fn spawn_listener(
    url: String,
    cache: Weak<SessionCache>,
    sync: Weak<Sync>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("latch-notify".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(run(url, cache, sync, stop)),
                Err(e) => {
                    tracing::error!(error = %e, "the session notification listener cannot start")
                }
            }
        })
        .map(drop)
}

async fn run(
    url: String,
    cache: Weak<SessionCache>,
    sync: Weak<Sync>,
    stop: watch::Receiver<bool>,
) {
    let (out, outgoing) = mpsc::unbounded_channel();
    let instance = match sync.upgrade() {
        Some(s) => s.instance,
        None => return,
    };
    let sender = tokio::spawn(send(
        url.clone(),
        instance,
        cache.clone(),
        outgoing,
        stop.clone(),
    ));
    listen(url, cache, sync, out, stop).await;
    // The sender says goodbye when stopped, so no instance waits for this one.
    let _ = tokio::time::timeout(Duration::from_secs(1), sender).await;
}

/// Receives: forgets what the triggers name, keeps the protocol's state, and queues
/// acknowledgements (sent by [`send`] on a connection of its own).
async fn listen(
    url: String,
    cache: Weak<SessionCache>,
    sync: Weak<Sync>,
    out: mpsc::UnboundedSender<Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let connected = tokio::select! {
            c = connect(&url) => c,
            _ = stop.changed() => return,
        };
        match connected {
            Ok(mut listener) => {
                let Some(c) = cache.upgrade() else {
                    return;
                };
                c.set_listening(true);
                drop(c);
                loop {
                    let next = tokio::select! {
                        n = listener.try_recv() => n,
                        _ = stop.changed() => return,
                    };
                    let (Some(c), Some(s)) = (cache.upgrade(), sync.upgrade()) else {
                        return;
                    };
                    match next {
                        Ok(Some(n)) => match s.handle(n.payload()) {
                            None => c.forget(n.payload()),
                            Some(Some((id, n))) => {
                                let _ = out.send(Outgoing::Ack(id, n));
                            }
                            Some(None) => {}
                        },
                        Ok(None) | Err(_) => {
                            c.set_listening(false);
                            let _ = out.send(Outgoing::Gone);
                            tracing::warn!(
                                "the session notification listener dropped; checks read the database until it is back"
                            );
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the session notification listener cannot connect");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Sends this instance's heartbeats (while it listens), acknowledgements, and the
/// word that its listener dropped.
async fn send(
    url: String,
    instance: u64,
    cache: Weak<SessionCache>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let Ok(mut conn) = PgConnection::connect(&url).await else {
            tokio::time::sleep(RECONNECT_AFTER).await;
            continue;
        };
        let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            let payload = tokio::select! {
                _ = beat.tick() => {
                    if !cache.upgrade().is_some_and(|c| c.is_listening()) {
                        continue;
                    }
                    format!("h:{instance}")
                }
                m = outgoing.recv() => match m {
                    Some(Outgoing::Ack(id, n)) => format!("a:{id}:{n}:{instance}"),
                    Some(Outgoing::Gone) => format!("g:{instance}"),
                    None => return,
                },
                _ = stop.changed() => {
                    let _ = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(format!("g:{instance}"))
                        .execute(&mut conn)
                        .await;
                    return;
                }
            };
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&mut conn)
                .await;
            if sent.is_err() {
                break;
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn connect(url: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
