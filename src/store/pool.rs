//! The only way to the database: the pool, lent for one statement or transaction.
//!
//! Taking a [`PoolUse`] and dropping it (after the statement's or the transaction's
//! end: hold it in a local for transactions) both move the store's write generation,
//! so no session check remembered before a write is trusted after it (see
//! `sqlite_read`). The raw pool is a private field of [`Pool`], so no other module can
//! reach the database without moving the generation: the compiler enforces what the
//! session memo relies on.

use std::sync::Arc;

use sqlx::AnyPool;

use super::generation::Generation;

/// The connection pool and the write generation it moves.
#[derive(Clone)]
pub struct Pool {
    raw: AnyPool,
    generation: Arc<Generation>,
}

tokio::task_local! {
    /// Set when the pool is lent within [`used_pool`]'s scope: whether a request used
    /// the database (and so may have written), for the settle of `pg_sync`.
    static USED: std::cell::Cell<bool>;
}

/// Runs `f`; also answers whether it used the pool (directly, not in tasks it spawned).
pub async fn used_pool<F: std::future::Future>(f: F) -> (F::Output, bool) {
    USED.scope(std::cell::Cell::new(false), async move {
        let out = f.await;
        (out, USED.with(std::cell::Cell::get))
    })
    .await
}

/// The pool, lent for one statement or transaction.
pub struct PoolUse<'a> {
    pool: &'a AnyPool,
    generation: &'a Generation,
}

impl Pool {
    pub fn new(raw: AnyPool, generation: Arc<Generation>) -> Pool {
        Pool { raw, generation }
    }

    /// Lends the pool; the generation moves now and again when the loan ends.
    pub fn lend(&self) -> PoolUse<'_> {
        self.generation.bump();
        let _ = USED.try_with(|u| u.set(true));
        PoolUse {
            pool: &self.raw,
            generation: &self.generation,
        }
    }

    /// The pool for the session read only, without moving the generation: a read
    /// changes nothing, and moving the generation on every check would make every
    /// remembered answer stale at once (see `pg_cache`).
    pub fn for_session_read(&self) -> &AnyPool {
        &self.raw
    }

    /// The write generation (read by the session memo; moved only by loans).
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Closes the pool: every later query fails.
    pub async fn close(&self) {
        self.raw.close().await;
    }
}

impl std::ops::Deref for PoolUse<'_> {
    type Target = AnyPool;
    fn deref(&self) -> &AnyPool {
        self.pool
    }
}

impl Drop for PoolUse<'_> {
    fn drop(&mut self) {
        self.generation.bump();
    }
}
