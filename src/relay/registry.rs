//! The live tunnels, by name: who holds each name and how to send it requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hyper::client::conn::http2::SendRequest;
use tokio::sync::{RwLock, Semaphore};
use tokio_util::sync::CancellationToken;

use super::auth::{Fingerprint, same};
use super::peers::PeerCounts;
use crate::web::body::BoxBody;

/// One connected agent.
pub struct Session {
    /// Unique per connection, so a stale session's cleanup cannot remove its successor.
    pub id: u64,
    /// The tunnel's name.
    pub name: String,
    /// Who holds the name.
    pub owner: Fingerprint,
    /// Sends requests into the tunnel (the relay is the h2 client).
    pub sender: SendRequest<BoxBody>,
    /// Requests in flight, bounded by the per-tunnel limit.
    pub in_flight: Arc<Semaphore>,
    /// Requests in flight per sender address, bounded by the per-peer limit.
    pub peers: Arc<PeerCounts>,
    /// Cancelled when the session must end (replaced, or the relay stops).
    pub closed: CancellationToken,
    /// Set before `closed` when a newer session of the same owner took the name: the
    /// agent is told so before the tunnel closes.
    pub replaced: AtomicBool,
    /// True while queued requests are being delivered; new ones queue behind them.
    pub draining: AtomicBool,
    /// Held for reading while a request is being queued, for writing when the delivery
    /// finds the queue empty and switches to live traffic, so nothing queued is missed.
    pub queue_gate: RwLock<()>,
}

impl Session {
    /// True when new requests go straight into the tunnel.
    pub fn is_live(&self) -> bool {
        !self.draining.load(Ordering::Acquire) && !self.closed.is_cancelled()
    }
}

/// A name held by another token.
#[derive(Debug)]
pub struct NameTaken;

/// The live tunnels.
pub struct Registry {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    next_id: AtomicU64,
    /// How many are live, for whoever watches the relay (tests, a frontend).
    online: tokio::sync::watch::Sender<usize>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            sessions: Mutex::default(),
            next_id: AtomicU64::default(),
            online: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Registry {
    /// A fresh session id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The live session holding `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Session>> {
        self.lock().get(name).cloned()
    }

    /// Whether a live session of another owner holds `name`.
    pub fn held_by_other(&self, name: &str, owner: &Fingerprint) -> bool {
        self.lock()
            .get(name)
            .is_some_and(|s| !same(&s.owner, owner) && !s.closed.is_cancelled())
    }

    /// Installs `session`; a session of the same owner is replaced (marked so, and
    /// closed): the newer agent takes the name.
    pub fn claim(&self, session: Arc<Session>) -> Result<(), NameTaken> {
        let mut sessions = self.lock();
        if let Some(old) = sessions.get(&session.name) {
            if !same(&old.owner, &session.owner) && !old.closed.is_cancelled() {
                return Err(NameTaken);
            }
            if !old.closed.is_cancelled() {
                old.replaced.store(true, Ordering::Release);
            }
            old.closed.cancel();
        }
        sessions.insert(session.name.clone(), session);
        self.online.send_replace(sessions.len());
        Ok(())
    }

    /// Removes the session `id` from `name`, unless a newer one took its place.
    pub fn remove(&self, name: &str, id: u64) -> bool {
        let mut sessions = self.lock();
        if sessions.get(name).is_some_and(|s| s.id == id) {
            sessions.remove(name);
            self.online.send_replace(sessions.len());
            true
        } else {
            false
        }
    }

    /// The number of live tunnels, as it changes.
    pub fn watch_online(&self) -> tokio::sync::watch::Receiver<usize> {
        self.online.subscribe()
    }

    /// Number of live tunnels.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Number of live tunnels still receiving their queued requests.
    pub fn draining(&self) -> usize {
        self.lock()
            .values()
            .filter(|s| s.draining.load(Ordering::Acquire))
            .count()
    }

    /// True when no tunnel is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every session (relay shutdown).
    pub fn close_all(&self) {
        for session in self.lock().values() {
            session.closed.cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}
