//! The session check's in-thread SQLite read, and what each thread remembers.
//!
//! Every SQLite read transaction takes and drops a POSIX lock on the WAL index
//! under a mutex that all connections of the process share: with two threads
//! checking sessions, those two `fcntl` calls and the contention on that mutex
//! were a large share of a session check's CPU (README, Performance). So each thread remembers the sessions
//! it read, keyed by token hash, and answers from memory while nothing can have
//! changed them:
//! - latch writes only through its pool, and any use of the pool moves the
//!   database's write generation (before and after), which every latch process on
//!   the same file shares (`generation.rs`): an answer read under an older
//!   generation is read again, so a logout, a password change or a revocation by
//!   any latch instance is seen at once;
//! - a write by another program (an operator's `sqlite3` shell) is seen within
//!   [`FRESH_FOR`];
//! - expiry is checked against the clock on every answer.
//!
//! Remembered answers are bounded per thread and hold only what the database
//! holds (token hashes, never tokens).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::rows::{self, SESSION_BY_TOKEN};
use super::{Generation, SessionRow, UserRow};
use crate::domain::TokenHash;

/// How long an answer may be reused when latch itself wrote nothing meanwhile.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Answers remembered per thread and store; when full, the thread starts over.
const MAX_REMEMBERED: usize = 4096;

struct Remembered {
    rows: (SessionRow, UserRow),
    generation: u64,
    read_at: Instant,
}

/// One store's connection and remembered answers in one thread.
struct Reader {
    /// The store's file name; weak, so a dropped store's reader can be noticed.
    file: Weak<PathBuf>,
    conn: Connection,
    remembered: HashMap<TokenHash, Remembered>,
}

thread_local! {
    /// Entries are keyed by the store's `Arc` of the file name (pointer equality:
    /// no path hashing on the hot path); the `Weak` held here keeps the address
    /// from being reused by another store.
    static READERS: RefCell<Vec<Reader>> = const { RefCell::new(Vec::new()) };
}

pub fn session_by_token(
    file: &Arc<PathBuf>,
    generation: &Generation,
    token_hash: &TokenHash,
    now: i64,
) -> rusqlite::Result<Option<(SessionRow, UserRow)>> {
    // Read before the database: a write that lands after this load moves the
    // generation past it, so what is read now is never trusted beyond that write.
    let current = generation.load();
    READERS.with(|cell| {
        let mut readers = cell.borrow_mut();
        let at = match readers
            .iter()
            .position(|r| std::ptr::eq(r.file.as_ptr(), Arc::as_ptr(file)))
        {
            Some(i) => i,
            None => {
                // Readers of stores that are gone are closed first.
                readers.retain(|r| r.file.strong_count() > 0);
                let conn = Connection::open_with_flags(
                    file.as_path(),
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(Duration::from_secs(10))?;
                readers.push(Reader {
                    file: Arc::downgrade(file),
                    conn,
                    remembered: HashMap::new(),
                });
                readers.len() - 1
            }
        };
        let reader = &mut readers[at];
        if let Some(r) = reader.remembered.get(token_hash)
            && r.generation == current
            && r.read_at.elapsed() < FRESH_FOR
        {
            return Ok((r.rows.0.expires_at.millis() > now).then(|| r.rows.clone()));
        }
        let rows = read(&reader.conn, token_hash, now)?;
        match &rows {
            Some(rows) => {
                if reader.remembered.len() >= MAX_REMEMBERED {
                    reader.remembered.clear();
                }
                reader.remembered.insert(
                    token_hash.clone(),
                    Remembered {
                        rows: rows.clone(),
                        generation: current,
                        read_at: Instant::now(),
                    },
                );
            }
            None => {
                reader.remembered.remove(token_hash);
            }
        }
        Ok(rows)
    })
}

fn read(
    conn: &Connection,
    token_hash: &TokenHash,
    now: i64,
) -> rusqlite::Result<Option<(SessionRow, UserRow)>> {
    let mut stmt = conn.prepare_cached(SESSION_BY_TOKEN)?;
    stmt.query_row((token_hash.as_str(), now), |r| rows::session_check(r))
        .optional()
}
