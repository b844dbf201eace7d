//! A bound on the bytes waiting for the writer thread.
//!
//! Records wait in memory until the writer commits them. Past the bound, new deliveries
//! wait for room before they start ([`Pending::room`]): recording slows the traffic
//! briefly instead of growing memory or dropping records. Only a writer that makes no
//! progress for [`STALL`] (a stalled disk) lets deliveries go on unrecorded: those
//! records are dropped, counted and reported.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::exchange::Exchange;

/// Default bound on the bytes of records waiting to be written: a few 1 MiB webhooks, a
/// few thousand small ones. The writer commits small records far faster than senders
/// make them, so the bound is met only by large bodies, a burst or a slow disk.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// How long the queue may stay full with no commit before the disk counts as stalled:
/// then deliveries stop waiting for room, and their records are dropped and counted.
pub const STALL: Duration = Duration::from_secs(5);

/// A record let into the queue.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    /// The room it holds, to [`Pending::release`] once written.
    pub size: usize,
}

/// Bytes queued for the writer, and records dropped because the disk stalled.
#[derive(Debug)]
pub struct Pending {
    bytes: AtomicUsize,
    limit: usize,
    dropped: AtomicU64,
    /// Woken when the queue falls below the bound.
    room: Notify,
    /// Milliseconds since `epoch` of the writer's last commit, or of the moment the queue
    /// last filled up: the stall is measured from the later of the two.
    progress_ms: AtomicU64,
    epoch: Instant,
    stall: Duration,
}

impl Pending {
    /// Room for `limit` bytes of queued records.
    pub fn new(limit: usize) -> Self {
        Self::with_stall(limit, STALL)
    }

    /// [`Pending::new`] with another stall time (tests).
    pub fn with_stall(limit: usize, stall: Duration) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            limit,
            dropped: AtomicU64::new(0),
            room: Notify::new(),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            stall,
        }
    }

    /// Waits until the queue is below its bound, or until the writer has made no
    /// progress for the stall time (then deliveries go on and their records are dropped).
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a release between the two is not missed.
            notified.as_mut().enable();
            if self.bytes() < self.limit || self.stalled() {
                return;
            }
            let waited = self
                .now_ms()
                .saturating_sub(self.progress_ms.load(Ordering::Relaxed));
            let left = self.stall.saturating_sub(Duration::from_millis(waited));
            let _ = tokio::time::timeout(left.max(Duration::from_millis(1)), notified).await;
        }
    }

    /// Takes room for `exchange`. Gives `None` (and one more dropped record) only when
    /// the queue is full and the writer has stalled; a delivery that waited for
    /// [`Pending::room`] may take the queue past its bound by its own record.
    pub fn admit(&self, exchange: &Exchange) -> Option<Admitted> {
        let size = Self::weight(exchange);
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        if before < self.limit && before + size >= self.limit {
            // Just filled up: the stall clock starts now, not at the last commit.
            self.progress_ms.store(self.now_ms(), Ordering::Relaxed);
        }
        if before < self.limit || !self.stalled() {
            return Some(Admitted { size });
        }
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // 1, 2, 4, 8…: loud at first, then quieter while the stall lasts.
        if dropped.is_power_of_two() {
            tracing::warn!(
                "the store's disk has not accepted a write for {}s: {dropped} requests forwarded but not recorded so far",
                self.stall.as_secs()
            );
        }
        None
    }

    /// Gives back `bytes` of room (what [`Pending::admit`] took for records now written)
    /// after a commit, and wakes deliveries waiting for room.
    pub fn release(&self, bytes: usize) {
        self.progress_ms.store(self.now_ms(), Ordering::Relaxed);
        let before = self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        if before >= self.limit && before - bytes < self.limit {
            self.room.notify_waiters();
        }
    }

    /// Bytes of records waiting (admitted and not yet written).
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the queue is full and the writer has not committed for the stall time.
    fn stalled(&self) -> bool {
        self.bytes() >= self.limit
            && self
                .now_ms()
                .saturating_sub(self.progress_ms.load(Ordering::Relaxed))
                >= self.stall.as_millis() as u64
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
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

    #[tokio::test]
    async fn a_full_queue_makes_deliveries_wait_until_a_commit_gives_room_back() {
        let pending = std::sync::Arc::new(Pending::with_stall(2000, Duration::from_secs(3600)));
        let a = pending.admit(&exchange(1000)).unwrap();
        let b = pending.admit(&exchange(1000)).unwrap();
        assert!(pending.bytes() >= 2000, "full");
        let waiting = tokio::spawn({
            let pending = pending.clone();
            async move { pending.room().await }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "a delivery waits while the queue is full"
        );
        pending.release(a.size);
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("room after a commit")
            .unwrap();
        pending.release(b.size);
        assert_eq!(pending.dropped(), 0, "nothing was dropped");
    }

    #[tokio::test]
    async fn past_the_bound_records_are_kept_until_the_writer_stalls() {
        let pending = Pending::with_stall(1000, Duration::from_millis(50));
        assert!(pending.admit(&exchange(1000)).is_some());
        assert!(
            pending.admit(&exchange(1000)).is_some(),
            "over the bound but not stalled: kept"
        );
        assert_eq!(pending.dropped(), 0);
        // No commit for the stall time: waiting stops, and records are dropped and counted.
        tokio::time::timeout(Duration::from_secs(10), pending.room())
            .await
            .expect("a stalled writer does not hold deliveries");
        assert!(pending.admit(&exchange(10)).is_none());
        assert_eq!(pending.dropped(), 1);
    }
}
