//! A bound on the bytes waiting for the writer thread.
//!
//! Recording never waits for the disk, so a disk slower than the traffic would let the
//! writer's queue grow without end. Past the bound a record is dropped, counted and
//! reported instead: the deliveries go on, and memory stays bounded.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::exchange::Exchange;

/// Default bound on the bytes of records waiting to be written.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 256 * 1024 * 1024;

/// Queued bytes past which the writer stops waiting for idle CPU (see `threads`), unless
/// the bound itself is smaller: then at a quarter of it.
const TAKEOVER_BYTES: usize = 4 * 1024 * 1024;

/// A record let into the queue.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    /// The room it holds, to [`Pending::release`] once written.
    pub size: usize,
    /// Nothing was queued before it: the writer may be asleep.
    pub first: bool,
    /// It took the queue past the takeover mark (see [`Pending::takeover_mark`]).
    pub over_mark: bool,
}

/// Bytes queued for the writer, and records dropped because the queue was full.
#[derive(Debug)]
pub struct Pending {
    bytes: AtomicUsize,
    limit: usize,
    dropped: AtomicU64,
}

impl Pending {
    /// Room for `limit` bytes of queued records.
    pub fn new(limit: usize) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            limit,
            dropped: AtomicU64::new(0),
        }
    }

    /// Takes room for `exchange`, or gives `None` (and one more dropped record) when
    /// there is none.
    pub fn admit(&self, exchange: &Exchange) -> Option<Admitted> {
        let size = Self::weight(exchange);
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        if before + size <= self.limit {
            let mark = self.takeover_mark();
            return Some(Admitted {
                size,
                first: before == 0,
                over_mark: before < mark && before + size >= mark,
            });
        }
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // 1, 2, 4, 8…: loud at first, then quieter while the flood lasts.
        if dropped.is_power_of_two() {
            tracing::warn!(
                "the store is falling behind the traffic: {dropped} requests forwarded but not recorded so far"
            );
        }
        None
    }

    /// Gives back `bytes` of room (what [`Pending::admit`] took for records now written).
    pub fn release(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes of records waiting (admitted and not yet written).
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether no record waits (admitted and not yet written).
    pub fn is_empty(&self) -> bool {
        self.bytes() == 0
    }

    /// Queued bytes past which the writer must not wait for idle CPU any longer.
    pub fn takeover_mark(&self) -> usize {
        TAKEOVER_BYTES.min(self.limit / 4).max(1)
    }

    /// Roughly the memory a queued record holds.
    fn weight(ex: &Exchange) -> usize {
        let headers =
            |h: &[(String, Vec<u8>)]| h.iter().map(|(n, v)| n.len() + v.len() + 48).sum::<usize>();
        let response = ex
            .response
            .as_ref()
            .map_or(0, |r| r.body.bytes.len() + headers(&r.headers));
        512 + ex.request.uri.len()
            + ex.request.body.bytes.len()
            + headers(&ex.request.headers)
            + response
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Body;

    fn exchange(body: usize) -> Exchange {
        let mut ex = crate::store::tests::exchange("/");
        ex.request.headers.clear();
        ex.request.body = Body::full(vec![0; body]);
        ex
    }

    #[test]
    fn records_past_the_bound_are_dropped_and_counted_until_room_is_given_back() {
        let pending = Pending::new(3100);
        let (a, b, c) = (exchange(1000), exchange(1000), exchange(1000));
        let a_size = pending.admit(&a).map(|a| a.size);
        assert!(a_size.is_some());
        assert!(pending.admit(&b).is_some());
        assert!(pending.admit(&c).is_none(), "the third does not fit");
        assert_eq!(pending.dropped(), 1);
        pending.release(a_size.unwrap());
        assert!(
            pending.admit(&c).is_some(),
            "room again once one is written"
        );
        assert_eq!(pending.dropped(), 1);
    }

    #[test]
    fn an_admission_says_if_the_queue_was_empty_and_if_it_passed_the_mark() {
        // Each record weighs 1 013 bytes; the mark is a quarter of the bound: 1 100.
        let pending = Pending::new(4400);
        assert_eq!(pending.takeover_mark(), 1100);
        let a = pending.admit(&exchange(500)).unwrap();
        assert!(a.first && !a.over_mark);
        let b = pending.admit(&exchange(500)).unwrap();
        assert!(!b.first && b.over_mark, "the second takes it past the mark");
        let c = pending.admit(&exchange(500)).unwrap();
        assert!(!c.first && !c.over_mark, "already past it");
        pending.release(a.size + b.size + c.size);
        assert!(pending.is_empty());
        assert!(pending.admit(&exchange(500)).unwrap().first);
    }
}
