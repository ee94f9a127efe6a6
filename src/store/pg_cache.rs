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

use super::{SessionRow, UserRow};
use crate::domain::TokenHash;

/// How long an answer may be reused at most, whatever the notifications say.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Answers remembered; when full, the cache starts over.
const MAX_ENTRIES: usize = 16_384;

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
    /// Before the read: an answer's age counts from here, since what it read may
    /// predate a commit made during the read.
    at: Instant,
}

/// Milliseconds on this process's monotonic clock (the stamps of its own heartbeats).
pub(super) fn mono_ms() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(BASE.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub struct SessionCache {
    entries: Mutex<HashMap<TokenHash, Entry>>,
    /// Until when (`mono_ms`) the listener vouches for the answers: its newest own
    /// heartbeat's send time plus the fence. Checked on every answer, so a listener
    /// thread that stalls stops vouching without running anything.
    vouched_until: AtomicU64,
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
            vouched_until: AtomicU64::new(0),
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
        if !self.vouched() {
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
            at: Instant::now(),
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
        let unchanged = self.vouched()
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
                read_at: ticket.at,
            },
        );
    }

    /// Drops what a notification names.
    pub(super) fn forget(&self, payload: &str) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        self.notified.fetch_add(1, Ordering::AcqRel);
        match payload.split_once(':') {
            Some(("s", hash)) => {
                entries.remove(hash);
            }
            Some(("u", user)) => {
                entries.retain(|_, e| e.rows.1.id.as_str() != user);
            }
            _ => entries.clear(),
        }
    }

    /// Whether the listener is up and its own heartbeat came back lately.
    fn vouched(&self) -> bool {
        self.listening.load(Ordering::Acquire)
            && mono_ms() < self.vouched_until.load(Ordering::Acquire)
    }

    /// The listener handled its own heartbeat sent at `sent` (`mono_ms`).
    pub(super) fn vouch(&self, sent: u64, fence: Duration) {
        let until = sent.saturating_add(u64::try_from(fence.as_millis()).unwrap_or(u64::MAX));
        self.vouched_until.fetch_max(until, Ordering::AcqRel);
    }

    /// The listener is up (`true`) or down: either way every remembered answer goes.
    pub(super) fn set_listening(&self, up: bool) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        self.listening.store(false, Ordering::Release);
        self.vouched_until.store(0, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.listening.store(up, Ordering::Release);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionId, Timestamp, UserId};

    fn rows(user: &str, expires_at: i64) -> (SessionRow, UserRow) {
        let t = Timestamp(1);
        let session = SessionRow {
            id: SessionId::new(format!("s-{user}")),
            user_id: UserId::new(user.to_string()),
            expires_at: Timestamp(expires_at),
            max_expires_at: Timestamp(expires_at),
            refreshed_at: t,
            persistent: true,
            ip_address: None,
            user_agent: None,
            created_at: t,
            authenticated_at: t,
            last_active_at: t,
            last_ip_address: None,
            auth_methods: vec!["password".into()],
        };
        let user = UserRow {
            id: UserId::new(user.to_string()),
            email: format!("{user}@example.com"),
            name: user.to_string(),
            email_verified: true,
            image: None,
            has_password: true,
            personal_workspace_id: None,
            created_at: t,
            updated_at: t,
        };
        (session, user)
    }

    /// A cache whose listener is up and vouches for it now.
    fn listening() -> SessionCache {
        let cache = SessionCache::new();
        cache.set_listening(true);
        cache.vouch(mono_ms(), Duration::from_secs(60));
        cache
    }

    fn remember(cache: &SessionCache, token: &str, r: &(SessionRow, UserRow)) {
        let ticket = cache.ticket(0);
        cache.keep(&TokenHash::of(token), ticket, 0, Some(r));
    }

    #[test]
    fn an_answer_is_used_only_until_its_session_ends() {
        let cache = listening();
        remember(&cache, "t", &rows("ann", 10_000));
        let h = TokenHash::of("t");
        assert!(matches!(cache.get(&h, 0, 9_999), Some(Some(_))));
        // Past its end: "expired" from memory, not the remembered answer.
        assert!(matches!(cache.get(&h, 0, 10_000), Some(None)));
    }

    #[test]
    fn nothing_is_used_unless_the_listener_vouches_for_it() {
        let cache = listening();
        remember(&cache, "t", &rows("ann", i64::MAX));
        let h = TokenHash::of("t");
        assert!(cache.get(&h, 0, 0).is_some());
        // Its own heartbeat not heard within the fence: unused, though still listening.
        cache.vouched_until.store(mono_ms(), Ordering::Release);
        assert!(cache.is_listening());
        assert!(cache.get(&h, 0, 0).is_none());
        // A dropped listener empties it.
        cache.vouch(mono_ms(), Duration::from_secs(60));
        cache.set_listening(false);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let cache = listening();
        let h = TokenHash::of("t");
        let ticket = cache.ticket(0);
        cache.forget("s:elsewhere");
        cache.keep(&h, ticket, 0, Some(&rows("ann", i64::MAX)));
        assert_eq!(cache.len(), 0);
        // Nor one across this instance's own write (the generation moved).
        let ticket = cache.ticket(0);
        cache.keep(&h, ticket, 1, Some(&rows("ann", i64::MAX)));
        assert_eq!(cache.len(), 0);
        // Nor used under another generation.
        remember(&cache, "t", &rows("ann", i64::MAX));
        assert!(cache.get(&h, 1, 0).is_none());
    }

    #[test]
    fn notifications_forget_what_they_name() {
        let cache = listening();
        remember(&cache, "a1", &rows("ann", i64::MAX));
        remember(&cache, "a2", &rows("ann", i64::MAX));
        remember(&cache, "b1", &rows("bob", i64::MAX));
        cache.forget(&format!("s:{}", TokenHash::of("a1").as_str()));
        assert!(cache.get(&TokenHash::of("a1"), 0, 0).is_none());
        assert_eq!(cache.len(), 2);
        remember(&cache, "a1", &rows("ann", i64::MAX));
        cache.forget("u:ann");
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&TokenHash::of("b1"), 0, 0).is_some());
        cache.forget("*");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = listening();
        let r = rows("ann", i64::MAX);
        for i in 0..=MAX_ENTRIES {
            remember(&cache, &i.to_string(), &r);
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
        assert!(cache.len() >= 1);
    }
}
