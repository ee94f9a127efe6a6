//! PostgreSQL scale-out, the store's side: session checks remembered on each instance
//! (`pg_cache`), kept honest by the listener (`pg_listener`) and the settle (`pg_sync`).
//! Nothing here on SQLite.

use anyhow::Context;

use super::{Backend, Store, pg_cache, pg_listener, pg_sync};

/// The PostgreSQL session cache and its listener (stopped with the store).
#[derive(Clone)]
pub(super) struct PgCache {
    pub(super) cache: std::sync::Arc<pg_cache::SessionCache>,
    sync: std::sync::Arc<pg_sync::Sync>,
    /// Sending `true`, or dropping the last clone, stops the listener.
    stop: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    /// The listener's thread, ended once it said goodbye.
    thread: std::sync::Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Store {
    /// PostgreSQL, for `serve`: starts the listener so session checks are answered
    /// from memory (see `pg_cache`). Operator commands and migrations never answer a
    /// check, so they need none. Nothing on SQLite.
    pub fn remember_sessions(mut self, cfg: &crate::config::Config) -> anyhow::Result<Store> {
        if self.backend != Backend::Postgres || self.pg_cache.is_some() {
            return Ok(self);
        }
        let cache = std::sync::Arc::new(pg_cache::SessionCache::new());
        let sync = std::sync::Arc::new(pg_sync::Sync::new());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = pg_listener::spawn_listener(
            cfg.database_url.expose().to_string(),
            std::sync::Arc::downgrade(&cache),
            std::sync::Arc::downgrade(&sync),
            stopped,
        )
        .context("starting the session notification listener")?;
        self.pg_cache = Some(PgCache {
            cache,
            sync,
            stop: std::sync::Arc::new(stop),
            thread: std::sync::Arc::new(std::sync::Mutex::new(Some(thread))),
        });
        Ok(self)
    }

    /// Stops the listener and lets it say goodbye, so no instance waits for this one.
    pub(super) async fn stop_listening(&self) {
        if let Some(c) = &self.pg_cache {
            c.stop.send_replace(true);
            let thread = c.thread.lock().ok().and_then(|mut t| t.take());
            if let Some(t) = thread {
                let joined = tokio::task::spawn_blocking(move || t.join());
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), joined).await;
            }
        }
    }

    /// Whether session checks are remembered across instances (PostgreSQL): requests
    /// that write then [`Store::settle`] before they answer.
    pub fn remembers_sessions(&self) -> bool {
        self.pg_cache.is_some()
    }

    /// After writes: waits until every instance has handled their notifications (see
    /// `pg_sync`). Without a listener of its own (an operator command) it waits out an
    /// answer's life instead: whatever any instance remembers from before the writes
    /// is then no longer used. Nothing on SQLite.
    pub async fn settle(&self) {
        match (&self.pg_cache, self.backend) {
            (Some(c), _) => c.sync.settle(&c.cache, self.pool.for_session_read()).await,
            (None, Backend::Postgres) => tokio::time::sleep(pg_cache::FRESH_FOR).await,
            (None, Backend::Sqlite) => {}
        }
    }

    /// PostgreSQL: waits (at most `limit`) until the listener knows the other
    /// instances, before serving (see `pg_sync`). Nothing on SQLite.
    pub async fn know_peers(&self, limit: std::time::Duration) {
        if let Some(c) = &self.pg_cache {
            c.sync.know_peers(&c.cache, limit).await;
        }
    }

    /// Tests (tests/postgres): makes this instance's listener slow to handle each
    /// notification. Nothing in latch calls it.
    #[doc(hidden)]
    pub fn dawdle_over_notifications(&self, ms: u64) {
        if let Some(c) = &self.pg_cache {
            c.sync
                .dawdle
                .store(ms, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The PostgreSQL session cache: (remembered answers, listening), for tests.
    pub fn session_cache_state(&self) -> Option<(usize, bool)> {
        self.pg_cache
            .as_ref()
            .map(|c| (c.cache.len(), c.cache.is_listening()))
    }
}
