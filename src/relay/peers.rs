//! Per-peer accounting, so one sender cannot take what is shared: requests in flight per
//! tunnel, anonymous tunnels, and tunnel handshakes per minute. A peer is an IPv4
//! address, or an IPv6 /64 (one host usually holds a whole /64).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One peer: an IPv4 address or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer(IpAddr);

impl Peer {
    /// The peer `addr` belongs to.
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self(addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let mut segments = v6.segments();
                    segments[4..].fill(0);
                    Self(IpAddr::V6(Ipv6Addr::from(segments)))
                }
            },
        }
    }
}

/// Counts what each peer holds; a [`Slot`] gives its unit back when dropped.
#[derive(Default)]
pub struct PeerCounts {
    counts: Mutex<HashMap<Peer, usize>>,
}

impl PeerCounts {
    /// Takes one unit for `peer`, unless it already holds `max`.
    pub fn try_take(self: &Arc<Self>, peer: Peer, max: usize) -> Option<Slot> {
        let mut counts = self.lock();
        let count = counts.entry(peer).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            peer,
        })
    }

    /// How many units `peer` holds.
    pub fn held(&self, peer: Peer) -> usize {
        self.lock().get(&peer).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Peer, usize>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One unit a peer holds.
pub struct Slot {
    counts: Arc<PeerCounts>,
    peer: Peer,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock();
        if let Some(count) = counts.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.peer);
            }
        }
    }
}

/// Tunnel handshakes per peer in the last minute.
#[derive(Default)]
pub struct HandshakeRate {
    seen: Mutex<HashMap<Peer, Vec<Instant>>>,
}

impl HandshakeRate {
    /// Counts a handshake from `peer`; false when it already made `max` in the last minute
    /// (the refused attempt is not counted, so a peer that waits gets in again).
    pub fn allow(&self, peer: Peer, max: usize) -> bool {
        const WINDOW: Duration = Duration::from_secs(60);
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget peers that have been quiet for a minute, so the map stays small.
        if seen.len() > 1024 {
            seen.retain(|_, times| times.last().is_some_and(|t| now - *t < WINDOW));
        }
        let times = seen.entry(peer).or_default();
        times.retain(|t| now - *t < WINDOW);
        if times.len() >= max {
            return false;
        }
        times.push(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_addresses_or_ipv6_slash_64s() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Peer::of(a), Peer::of(b));
        assert_ne!(Peer::of(a), Peer::of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(Peer::of(mapped), Peer::of("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn slots_come_back_when_dropped_and_rates_are_per_peer() {
        let counts = Arc::new(PeerCounts::default());
        let peer = Peer::of("10.0.0.1".parse().unwrap());
        let other = Peer::of("10.0.0.2".parse().unwrap());
        let first = counts.try_take(peer, 2).unwrap();
        let _second = counts.try_take(peer, 2).unwrap();
        assert!(counts.try_take(peer, 2).is_none());
        assert!(counts.try_take(other, 2).is_some());
        drop(first);
        assert_eq!(counts.held(peer), 1);
        assert!(counts.try_take(peer, 2).is_some());

        let rate = HandshakeRate::default();
        assert!(rate.allow(peer, 2));
        assert!(rate.allow(peer, 2));
        assert!(!rate.allow(peer, 2));
        assert!(rate.allow(other, 2));
    }
}
