//! The listener and the sender of a PostgreSQL instance's settle protocol
//! (`pg_sync`): a thread of their own, each on a connection of its own.

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::{mpsc, watch};

use super::pg_cache::{SessionCache, mono_ms};
use super::pg_sync::{CHANNEL, HEARTBEAT_EVERY, Handled, PEER_GONE_AFTER, RECONNECT_AFTER, Sync};

/// What the sender task sends for the listener.
enum Outgoing {
    Hello(u64),
    Ack(u64, u64),
    Gone(u64),
}

/// Starts the listener on a thread of its own, so a busy runtime never delays a
/// notification or an acknowledgement. It runs until `stop` is told to or dropped;
/// the handle ends once it said goodbye.
pub fn spawn_listener(
    url: String,
    cache: Weak<SessionCache>,
    sync: Weak<Sync>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
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
}

async fn run(
    url: String,
    cache: Weak<SessionCache>,
    sync: Weak<Sync>,
    stop: watch::Receiver<bool>,
) {
    let (out, outgoing) = mpsc::unbounded_channel();
    let Some(instance) = sync.upgrade().map(|s| s.instance) else {
        return;
    };
    let epoch = std::sync::Arc::new(AtomicU64::new(0));
    let sender = tokio::spawn(send(
        url.clone(),
        instance,
        cache.clone(),
        epoch.clone(),
        outgoing,
        stop.clone(),
    ));
    listen(url, cache, sync, epoch, out, stop).await;
    // The sender says goodbye when stopped, so no instance waits for this one.
    let _ = tokio::time::timeout(Duration::from_secs(1), sender).await;
}

/// Receives: forgets what the triggers name, keeps the protocol's state, queues
/// hellos and acknowledgements (sent by [`send`] on a connection of its own), and
/// reconnects when its own heartbeat stops coming back (a half-open connection never
/// errors). Answers stop being trusted without this thread's help (`SessionCache::vouch`);
/// the reconnect only brings them back.
async fn listen(
    url: String,
    cache: Weak<SessionCache>,
    sync: Weak<Sync>,
    epoch: std::sync::Arc<AtomicU64>,
    out: mpsc::UnboundedSender<Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let connected = tokio::select! {
            c = connect(&url) => c,
            _ = stop.changed() => break,
        };
        let this_epoch = epoch.fetch_add(1, Ordering::AcqRel) + 1;
        match connected {
            Ok(mut listener) => {
                // Remember nothing until the hello is back: then every instance knows
                // this one, and its markers are waited for.
                let _ = out.send(Outgoing::Hello(this_epoch));
                let since = Instant::now();
                let mut check = tokio::time::interval(HEARTBEAT_EVERY);
                let gone = loop {
                    let next = tokio::select! {
                        // Stop first: no hello handled after the goodbye is sent.
                        biased;
                        _ = stop.changed() => break "",
                        _ = check.tick() => {
                            // Its hello or heartbeats have had time to come back.
                            let overdue = since.elapsed() >= PEER_GONE_AFTER
                                && !sync.upgrade().is_some_and(|s| s.heard_own());
                            if overdue {
                                break "its own heartbeat stopped coming back";
                            }
                            continue;
                        }
                        n = listener.try_recv() => n,
                    };
                    let (Some(c), Some(s)) = (cache.upgrade(), sync.upgrade()) else {
                        break "";
                    };
                    let ms = s.dawdle.load(Ordering::Relaxed);
                    if ms > 0 {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    match next {
                        Ok(Some(n)) => match s.handle_and_vouch(n.payload(), &c) {
                            Handled::Forget => c.forget(n.payload()),
                            Handled::Ack(id, m) => {
                                let _ = out.send(Outgoing::Ack(id, m));
                            }
                            Handled::OwnHello(e) if e == this_epoch => c.set_listening(true),
                            Handled::OwnHello(_) | Handled::Done => {}
                        },
                        Ok(None) | Err(_) => break "the connection dropped",
                    }
                };
                if let Some(c) = cache.upgrade() {
                    c.set_listening(false);
                }
                if gone.is_empty() {
                    break;
                }
                let _ = out.send(Outgoing::Gone(this_epoch));
                tracing::warn!(
                    reason = gone,
                    "the session notification listener stopped; checks read the database until it is back"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "the session notification listener cannot connect");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Sends this instance's hellos, heartbeats (while it listens), acknowledgements and
/// goodbyes. A message that fails is tried again on the next connection, a few times
/// at most, so none can hold up the ones behind it; a heartbeat is not tried again
/// (the next one follows), and a hello is stamped when sent. Whatever is lost only
/// makes a settle wait its whole bound, which is correct.
async fn send(
    url: String,
    instance: u64,
    cache: Weak<SessionCache>,
    epoch: std::sync::Arc<AtomicU64>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    const TRIES: u8 = 3;
    let text = |m: &Outgoing| match m {
        Outgoing::Hello(e) => format!("h:{instance}:{e}:{}", mono_ms()),
        Outgoing::Ack(id, n) => format!("a:{id}:{n}:{instance}"),
        Outgoing::Gone(e) => format!("g:{instance}:{e}"),
    };
    let mut unsent: Option<(Outgoing, u8)> = None;
    loop {
        let conn = tokio::select! {
            c = PgConnection::connect(&url) => c,
            _ = stop.changed() => return,
        };
        let mut conn = match conn {
            Ok(conn) => conn,
            Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_AFTER) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            let message = match unsent.take() {
                Some(m) => Some(m),
                None => tokio::select! {
                    // Stop first: the listener's end closes `outgoing` at the same time.
                    biased;
                    _ = stop.changed() => {
                        return goodbye(&mut conn, instance, &cache, &epoch).await;
                    }
                    m = outgoing.recv() => match m {
                        Some(m) => Some((m, 0)),
                        None => return goodbye(&mut conn, instance, &cache, &epoch).await,
                    },
                    _ = beat.tick() => None,
                },
            };
            let payload = match &message {
                Some((m, _)) => text(m),
                None if cache.upgrade().is_some_and(|c| c.is_listening()) => {
                    format!(
                        "h:{instance}:{}:{}",
                        epoch.load(Ordering::Acquire),
                        mono_ms()
                    )
                }
                None => continue,
            };
            if notify(&mut conn, &payload).await.is_err() {
                unsent = message
                    .filter(|(_, tries)| tries + 1 < TRIES)
                    .map(|(m, t)| (m, t + 1));
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT_AFTER) => {}
            _ = stop.changed() => return,
        }
    }
}

/// At stop, only the goodbye: after it no instance waits for this one, which
/// remembers nothing from then on.
async fn goodbye(
    conn: &mut PgConnection,
    instance: u64,
    cache: &Weak<SessionCache>,
    epoch: &AtomicU64,
) {
    if let Some(c) = cache.upgrade() {
        c.set_listening(false);
    }
    let gone = format!("g:{instance}:{}", epoch.load(Ordering::Acquire));
    let _ = notify(conn, &gone).await;
}

/// Sends one message; a connection that does not answer within a second is dropped.
async fn notify(conn: &mut PgConnection, payload: &str) -> Result<(), ()> {
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(conn);
    match tokio::time::timeout(Duration::from_secs(1), sent).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(()),
    }
}

async fn connect(url: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
