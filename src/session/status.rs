//! What a session shows of itself: the tunnel's state and the counts of what it recorded,
//! each a `watch` kept up by a small task.

use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::exchange::{Exchange, Source};
use crate::signature::Verdict;
use crate::store::Store;
use crate::tunnel::TunnelEvent;

/// How often the counts pick up records the store dropped (they come with no event).
const DROPPED_EVERY: Duration = Duration::from_secs(1);

/// The tunnel, as a frontend shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelStatus {
    /// No `--relay`: local capture only.
    Local,
    /// Requests to these URLs reach the app.
    Online {
        /// The tunnel's name.
        name: String,
        /// Every public URL, the preferred one first.
        public_urls: Vec<String>,
    },
    /// Dropped; the agent tries again at `retry_at`.
    Reconnecting {
        /// Why it dropped, in a few words.
        reason: String,
        /// 1 for the first retry.
        attempt: u32,
        /// When the next attempt starts.
        retry_at: Instant,
    },
    /// Dropped, and not yet retrying.
    Offline {
        /// Why.
        reason: String,
    },
    /// The relay refused the tunnel or gave its name to a newer agent: it will not come
    /// back by itself.
    Stopped {
        /// One sentence for the user.
        reason: String,
    },
}

impl TunnelStatus {
    /// Requests to the public URL reach the app now.
    pub fn is_online(&self) -> bool {
        matches!(self, TunnelStatus::Online { .. })
    }

    /// The state after `event`.
    fn after(&self, event: &TunnelEvent) -> TunnelStatus {
        match event {
            TunnelEvent::Online {
                name, public_urls, ..
            } => TunnelStatus::Online {
                name: name.clone(),
                public_urls: public_urls.clone(),
            },
            TunnelEvent::Offline { reason } => TunnelStatus::Offline {
                reason: reason.clone(),
            },
            TunnelEvent::Reconnecting { attempt, delay } => TunnelStatus::Reconnecting {
                reason: match self {
                    TunnelStatus::Offline { reason }
                    | TunnelStatus::Reconnecting { reason, .. } => reason.clone(),
                    _ => "connection lost".into(),
                },
                attempt: *attempt,
                retry_at: Instant::now() + *delay,
            },
            TunnelEvent::Refused(message) => TunnelStatus::Stopped {
                reason: format!("the relay refused the tunnel: {message}"),
            },
            TunnelEvent::Replaced(message) => TunnelStatus::Stopped {
                reason: format!("the tunnel was {message}"),
            },
        }
    }
}

/// Counts of what a session recorded since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Exchanges committed.
    pub records: u64,
    /// Of those, failed: no response, or a status outside 200-299.
    pub failed: u64,
    /// Of those, with an invalid or expired signature.
    pub invalid: u64,
    /// Records dropped because the disk stalled.
    pub dropped: u64,
    /// Exchanges the relay had queued while the agent was away, delivered since.
    pub queued_delivered: u64,
}

impl Stats {
    fn add(&mut self, exchange: &Exchange) {
        self.records += 1;
        self.failed += u64::from(exchange.failed());
        self.invalid += u64::from(matches!(
            exchange.verdict,
            Some(Verdict::Invalid { .. } | Verdict::Expired { .. })
        ));
        self.queued_delivered += u64::from(exchange.source == Source::Queued);
    }
}

/// Keeps `status` up with the tunnel's events and passes each on to `events`; ends when
/// the tunnel's task does.
pub(super) async fn follow_tunnel(
    mut tunnel: tokio::sync::mpsc::UnboundedReceiver<TunnelEvent>,
    status: watch::Sender<TunnelStatus>,
    events: broadcast::Sender<TunnelEvent>,
) {
    while let Some(event) = tunnel.recv().await {
        status.send_modify(|state| *state = state.after(&event));
        // No receiver left is fine: the watch has it.
        let _ = events.send(event);
    }
}

/// Keeps `stats` up with the store's commits until `shutdown`.
pub(super) async fn count(store: Store, stats: watch::Sender<Stats>, shutdown: CancellationToken) {
    let mut committed = store.subscribe();
    let mut tick = tokio::time::interval(DROPPED_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            event = committed.recv() => match event {
                Ok(first) => stats.send_modify(|s| {
                    s.add(&first);
                    while let Ok(more) = committed.try_recv() {
                        s.add(&more);
                    }
                    s.dropped = store.dropped();
                }),
                // Counted short by what was missed; the store has every record.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let dropped = store.dropped();
                stats.send_if_modified(|s| std::mem::replace(&mut s.dropped, dropped) != dropped);
            }
        }
    }
}
