//! The session checks a PostgreSQL instance remembers, and the listening connection
//! that tells it when to forget them.
//!
//! Several latch instances share one PostgreSQL database; a session check answered
//! from memory must still see a logout, revocation, password change or deletion made
//! by any of them at once. The database notifies channel `latch_sessions` in the same
//! transaction as every change to a session or a user (migration 0008, by trigger, so
//! an operator's `psql` is covered too), and each instance listens:
//! - an answer is used only while the listening connection has been up since it was
//!   read (its epoch), so a dropped or restarted listener empties the cache, and checks
//!   read the database until it listens again;
//! - a notification drops the answers it names (a session's token hash, a user, or
//!   everything), and an answer read while any notification arrived is not kept;
//! - this instance's own writes move the pool's write generation, as on SQLite, so its
//!   next check never trusts an answer remembered before them;
//! - an answer is reused for at most [`FRESH_FOR`], and expiry is checked every time.
//!
//! What is kept is what a session check answers (the session and user rows: no
//! password hash, no token), in a bounded number of entries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;

use super::{SessionRow, UserRow};
use crate::domain::TokenHash;

/// The channel the triggers of migration 0008 notify.
pub const CHANNEL: &str = "latch_sessions";
/// How long an answer may be reused at most, whatever the notifications say.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Answers remembered; when full, the cache starts over.
const MAX_ENTRIES: usize = 16_384;
/// The longest a request that wrote waits for its marker.
const SETTLE_WITHIN: Duration = Duration::from_secs(1);
/// The wait before listening again after the connection dropped.
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

struct Entry {
    rows: (SessionRow, UserRow),
    /// The listener epoch and write generation it was read under.
    epoch: u64,
    generation: u64,
    read_at: Instant,
}

/// What a check noted before reading the database: the answer is kept only if none of
/// it moved meanwhile.
#[derive(Clone, Copy)]
pub struct ReadTicket {
    epoch: u64,
    generation: u64,
    notified: u64,
}

pub struct SessionCache {
    entries: Mutex<HashMap<TokenHash, Entry>>,
    /// This instance's name in its own markers (see [`SessionCache::settle`]).
    instance: u64,
    next_marker: AtomicU64,
    /// The newest of this instance's markers the listener has seen.
    markers_seen: tokio::sync::watch::Sender<u64>,
    /// Moves each time the listener connects or drops.
    epoch: AtomicU64,
    listening: AtomicBool,
    /// Moves with every notification.
    notified: AtomicU64,
}

impl SessionCache {
    pub fn new() -> SessionCache {
        SessionCache {
            entries: Mutex::new(HashMap::new()),
            instance: rand::random(),
            next_marker: AtomicU64::new(1),
            markers_seen: tokio::sync::watch::Sender::new(0),
            epoch: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            notified: AtomicU64::new(0),
        }
    }

    /// A remembered answer that may be used now (`generation`: the pool's current
    /// write generation), or `None` when the database must be read. `Some(None)`
    /// answers "expired" for a remembered session past its end.
    pub fn get(
        &self,
        token_hash: &TokenHash,
        generation: u64,
        now_ms: i64,
    ) -> Option<Option<(SessionRow, UserRow)>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let entries = self.entries.lock().ok()?;
        let e = entries.get(token_hash)?;
        if e.epoch != epoch || e.generation != generation || e.read_at.elapsed() >= FRESH_FOR {
            return None;
        }
        Some((e.rows.0.expires_at.millis() > now_ms).then(|| e.rows.clone()))
    }

    /// Notes the state before a database read.
    pub fn ticket(&self, generation: u64) -> ReadTicket {
        ReadTicket {
            epoch: self.epoch.load(Ordering::Acquire),
            generation,
            notified: self.notified.load(Ordering::Acquire),
        }
    }

    /// Keeps what the read answered, unless the listener was down, or anything moved
    /// since `ticket` (`generation`: the pool's write generation now).
    pub fn keep(
        &self,
        token_hash: &TokenHash,
        ticket: ReadTicket,
        generation: u64,
        rows: Option<&(SessionRow, UserRow)>,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let Some(rows) = rows else {
            entries.remove(token_hash);
            return;
        };
        // Checked under the lock that notifications take, so none slips in between.
        let unchanged = self.listening.load(Ordering::Acquire)
            && self.epoch.load(Ordering::Acquire) == ticket.epoch
            && self.notified.load(Ordering::Acquire) == ticket.notified
            && generation == ticket.generation;
        if !unchanged {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token_hash.clone(),
            Entry {
                rows: rows.clone(),
                epoch: ticket.epoch,
                generation: ticket.generation,
                read_at: Instant::now(),
            },
        );
    }

    /// Drops what a notification names; notes this instance's markers.
    fn forget(&self, payload: &str) {
        if let Some(marker) = payload.strip_prefix("m:") {
            if let Some((instance, n)) = marker.split_once(':')
                && instance.parse() == Ok(self.instance)
                && let Ok(n) = n.parse::<u64>()
            {
                self.markers_seen.send_if_modified(|seen| {
                    let newer = n > *seen;
                    *seen = (*seen).max(n);
                    newer
                });
            }
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        self.notified.fetch_add(1, Ordering::AcqRel);
        match payload.split_once(':') {
            Some(("s", hash)) => {
                entries.retain(|k, _| k.as_str() != hash);
            }
            Some(("u", user)) => {
                entries.retain(|_, e| e.rows.1.id.as_str() != user);
            }
            _ => entries.clear(),
        }
    }

    /// The listener is up (`true`) or down: either way every remembered answer goes.
    fn set_listening(&self, up: bool) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        self.listening.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.listening.store(up, Ordering::Release);
    }

    /// Waits until this instance's listener has seen a marker notified now, after this
    /// instance's writes committed: notifications reach the listening connections in
    /// commit order, so by then the other instances' listeners have been sent every
    /// notification of those writes too. An instance answers a request that wrote
    /// only after this, so the next check on another instance, which starts after the
    /// answer, finds the changed answers dropped. Waits at most [`SETTLE_WITHIN`];
    /// without a listener there is nothing to wait for.
    pub async fn settle(&self, pool: &sqlx::AnyPool) {
        // A listener that is (re)connecting: wait for it, within the bound.
        let deadline = Instant::now() + SETTLE_WITHIN;
        while !self.is_listening() {
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let n = self.next_marker.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.markers_seen.subscribe();
        let payload = format!("m:{}:{n}", self.instance);
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the settle marker was not sent");
            return;
        }
        let _ = tokio::time::timeout(SETTLE_WITHIN, seen.wait_for(|s| *s >= n)).await;
    }

    /// How many answers are remembered (for tests).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the listening connection is up.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

/// Starts the listener on a thread of its own, so a busy runtime never delays a
/// notification: it runs until `stop` is dropped or told to.
pub fn spawn_listener(
    url: String,
    cache: std::sync::Weak<SessionCache>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("latch-notify".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(listen(url, cache, stop)),
                Err(e) => {
                    tracing::error!(error = %e, "the session notification listener cannot start")
                }
            }
        })
        .map(drop)
}

/// Listens on [`CHANNEL`] until stopped, reconnecting after a drop.
async fn listen(
    url: String,
    cache: std::sync::Weak<SessionCache>,
    mut stop: tokio::sync::watch::Receiver<bool>,
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
                    let Some(c) = cache.upgrade() else {
                        return;
                    };
                    match next {
                        Ok(Some(n)) => c.forget(n.payload()),
                        Ok(None) | Err(_) => {
                            c.set_listening(false);
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

async fn connect(url: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
