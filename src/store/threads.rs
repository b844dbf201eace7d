//! The store writer's threads: a helper that writes with idle CPU and a keeper that
//! writes what must not wait, sharing one [`Writer`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pending::{Admitted, Pending};
use super::writer::{Op, Writer};
use crate::exchange::Exchange;

/// How long the writer waits for more records before committing a batch. Each commit
/// rewrites a few pages whatever its size (the last leaf, the root, the freelist), so
/// fuller batches cost less per record: 5 ms rather than 2 ms took the writer's CPU per
/// record down by about 5% at 20 000 records/s (`cargo bench --bench store`, medians of
/// four interleaved runs), while a record still shows up within a frame of the TUI.
const GROUP_COMMIT_WINDOW: Duration = Duration::from_millis(5);

/// How long records may wait for idle CPU before the writer stops waiting for it.
const STALL: Duration = Duration::from_millis(200);

/// Largest number of operations committed in one transaction.
const MAX_BATCH: usize = 256;

/// Largest batch of the helper. The keeper may have to wait for the batch the helper is
/// writing, and under load the helper gets CPU only now and then: a short batch keeps that
/// wait, and the records that pile up meanwhile, small.
const HELPER_BATCH: usize = 64;

/// The way to the writer: operations, and the wake-ups that go with them.
///
/// Two threads share the writer. The helper runs under `SCHED_IDLE`: it writes records
/// with CPU time nothing else wants, so recording takes CPU from the deliveries only when
/// no idle time is left. The keeper runs at normal priority: it writes what must not wait
/// (a flush, a clear), and steps in whenever idle time falls short: when the queue passes
/// its takeover mark (it writes it down to half the mark), or when records have waited
/// [`STALL`] without a commit (it writes them all). Where
/// `SCHED_IDLE` is not available the keeper does everything, as a single writer would.
/// Both take the same lock around a batch, so operations are applied in their order. A
/// flush may have to wait for the batch the helper is writing (at most [`HELPER_BATCH`]
/// records, well under a millisecond of CPU), which takes longer on a machine busy with
/// other work; deliveries never wait for either thread.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    // Dropped before `threads`, whose drop then wakes the threads to see the channel closed.
    ops: Sender<Op>,
    threads: Threads,
}

struct Threads {
    keeper: std::thread::Thread,
    helper: Option<std::thread::Thread>,
    shared: Arc<Shared>,
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Relaxed);
        self.keeper.unpark();
        if let Some(helper) = &self.helper {
            helper.unpark();
        }
    }
}

impl Handle {
    /// Queues a record admitted by [`Pending::admit`]; it waits for the window.
    pub fn insert(&self, exchange: Exchange, admitted: Admitted) {
        // The threads keep the receiver until this sender is gone: it cannot fail.
        let _ = self
            .inner
            .ops
            .send(Op::Insert(Box::new(exchange), admitted.size));
        let threads = &self.inner.threads;
        if admitted.over_mark && threads.helper.is_some() {
            threads.shared.over_mark.store(true, Ordering::Relaxed);
        }
        if admitted.first || admitted.over_mark {
            // The queue was empty, so the writer may be parked: one wake-up per batch, not
            // per record. The keeper too: to watch for a helper that gets no CPU, or to
            // step in now that the queue passed its mark.
            if let Some(helper) = &threads.helper {
                helper.unpark();
            }
            threads.keeper.unpark();
        }
    }

    /// Queues a flush or a clear; the keeper commits it at once.
    pub fn send(&self, op: Op) -> Result<(), std::sync::mpsc::SendError<Op>> {
        self.inner.ops.send(op)?;
        let threads = &self.inner.threads;
        threads.shared.urgent.store(true, Ordering::Relaxed);
        threads.keeper.unpark();
        Ok(())
    }
}

/// What the two threads share: the writer with its queue, behind one lock.
struct Shared {
    work: Mutex<Work>,
    pending: Arc<Pending>,
    /// A flush or clear waits: the keeper writes everything up to it now.
    urgent: AtomicBool,
    /// The queue passed its takeover mark: the keeper writes part of it now.
    over_mark: AtomicBool,
    /// The store was dropped: write what is left, then end.
    closing: AtomicBool,
    /// Batches committed so far, for the keeper to notice a helper that gets no CPU.
    commits: AtomicU64,
}

struct Work {
    writer: Writer,
    ops: Receiver<Op>,
}

impl Shared {
    fn new(writer: Writer, ops: Receiver<Op>, pending: Arc<Pending>) -> Self {
        Self {
            work: Mutex::new(Work { writer, ops }),
            pending,
            urgent: AtomicBool::new(false),
            over_mark: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            commits: AtomicU64::new(0),
        }
    }

    /// Writes batches until the queue is empty, or until no more than `down_to` bytes wait.
    /// Gives whether the queue is still open and whether the last batch was a full one.
    fn drain(&self, down_to: usize, max_batch: usize) -> (bool, bool) {
        loop {
            let mut work = self.work.lock().unwrap_or_else(|e| e.into_inner());
            let mut batch = Vec::new();
            let mut open = true;
            while batch.len() < max_batch {
                match work.ops.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            if batch.is_empty() {
                return (open, false);
            }
            let full = batch.len() == max_batch;
            work.writer.apply(batch);
            drop(work);
            self.commits.fetch_add(1, Ordering::Relaxed);
            if !open || (down_to > 0 && self.pending.bytes() <= down_to) {
                return (open, full);
            }
        }
    }

    /// The helper: waits for records, lets a window's worth gather, writes them. While a
    /// backlog lasts it does not wait: it stays ready for any moment a CPU would idle.
    fn help(&self) {
        let mut backlog = false;
        loop {
            if self.pending.is_empty() && !self.closing.load(Ordering::Relaxed) {
                std::thread::park();
                continue;
            }
            if !backlog {
                std::thread::park_timeout(GROUP_COMMIT_WINDOW);
            }
            let (open, full) = self.drain(0, HELPER_BATCH);
            if !open {
                return;
            }
            backlog = full;
        }
    }

    /// The keeper: writes what must not wait, the queue down to half its mark once it
    /// passes it, and everything when records have waited `stall` with no commit. Alone,
    /// with the group-commit window as `stall`, it is the whole writer: each batch waits
    /// out the window, then is written.
    fn keep(&self, stall: Duration) {
        let mut seen = self.commits.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            let urgent = self.take_urgent();
            let over_mark = self.over_mark.swap(false, Ordering::Relaxed);
            if self.pending.is_empty() && !urgent {
                std::thread::park();
                since = Instant::now();
                continue;
            }
            let commits = self.commits.load(Ordering::Relaxed);
            if commits != seen {
                seen = commits;
                since = Instant::now();
            }
            let stalled = since.elapsed() >= stall;
            if urgent || stalled || over_mark {
                // Past the mark, leave half of it to the helper: it then has work for
                // every moment a CPU would idle.
                let down_to = if urgent || stalled {
                    0
                } else {
                    self.pending.takeover_mark() / 2
                };
                if !self.drain(down_to, MAX_BATCH).0 {
                    return;
                }
                since = Instant::now();
                continue;
            }
            std::thread::park_timeout(stall.saturating_sub(since.elapsed()));
        }
    }

    /// Whether a flush or clear waits, or the store was dropped (clearing the former).
    fn take_urgent(&self) -> bool {
        self.urgent.swap(false, Ordering::Relaxed) || self.closing.load(Ordering::Relaxed)
    }
}

/// Starts the threads that run `writer`, whose records hold room in `pending`.
pub fn spawn(writer: Writer, pending: Arc<Pending>) -> anyhow::Result<Handle> {
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared::new(writer, rx, pending));
    let helper = spawn_helper(&shared)?;
    start(shared, tx, helper, STALL)
}

/// Starts the keeper beside `helper`, which it waits `stall` for, or alone, and hands out
/// the way to them.
fn start(
    shared: Arc<Shared>,
    ops: Sender<Op>,
    helper: Option<std::thread::Thread>,
    stall: Duration,
) -> anyhow::Result<Handle> {
    let keeper_shared = shared.clone();
    let stall = if helper.is_some() {
        stall
    } else {
        GROUP_COMMIT_WINDOW
    };
    let keeper = std::thread::Builder::new()
        .name("hooktap-store".into())
        .spawn(move || keeper_shared.keep(stall))?
        .thread()
        .clone();
    Ok(Handle {
        inner: Arc::new(Inner {
            ops,
            threads: Threads {
                keeper,
                helper,
                shared,
            },
        }),
    })
}

/// Starts the helper under `SCHED_IDLE`; `None` where the system refuses that policy.
fn spawn_helper(shared: &Arc<Shared>) -> anyhow::Result<Option<std::thread::Thread>> {
    let (ready, is_idle) = std::sync::mpsc::sync_channel(1);
    let shared = shared.clone();
    let handle = std::thread::Builder::new()
        .name("hooktap-store-idle".into())
        .spawn(move || {
            let idle = idle_policy().is_ok();
            let _ = ready.send(idle);
            if idle {
                shared.help();
            }
        })?;
    Ok(match is_idle.recv() {
        Ok(true) => Some(handle.thread().clone()),
        _ => None,
    })
}

/// Puts the calling thread under `SCHED_IDLE`: it runs only when a CPU would otherwise idle.
#[cfg(target_os = "linux")]
fn idle_policy() -> Result<(), thread_priority::Error> {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
}

#[cfg(not(target_os = "linux"))]
fn idle_policy() -> Result<(), ()> {
    Err(())
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;

    use rusqlite::Connection;
    use tokio::sync::{broadcast, oneshot};

    use super::*;
    use crate::store::schema;
    use crate::store::tests::exchange;

    /// A writer whose helper never writes (as on a machine busy with other work): its
    /// keeper waits `stall` for it, and `limit` bytes may be queued. Also the events of
    /// committed records, and a way to see the threads end.
    fn starved(stall: Duration, limit: usize) -> Writing {
        writing(
            stall,
            limit,
            Some(std::thread::spawn(|| {}).thread().clone()),
        )
    }

    type Writing = (
        Handle,
        Arc<Pending>,
        broadcast::Receiver<Arc<Exchange>>,
        Weak<Shared>,
    );

    /// A writer with `helper` (or none) as its helper thread.
    fn writing(stall: Duration, limit: usize, helper: Option<std::thread::Thread>) -> Writing {
        let conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn, true).unwrap();
        let (events, committed) = broadcast::channel(64);
        let pending = Arc::new(Pending::new(limit));
        let writer = Writer::new(conn, 100, None, events, pending.clone()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared::new(writer, rx, pending.clone()));
        let weak = Arc::downgrade(&shared);
        let handle = start(shared, tx, helper, stall).unwrap();
        (handle, pending, committed, weak)
    }

    fn record(handle: &Handle, pending: &Pending, path: &str) -> Exchange {
        let ex = exchange(path);
        handle.insert(ex.clone(), pending.admit(&ex).unwrap());
        ex
    }

    async fn next(committed: &mut broadcast::Receiver<Arc<Exchange>>) -> Arc<Exchange> {
        tokio::time::timeout(Duration::from_secs(10), committed.recv())
            .await
            .expect("a record is committed")
            .unwrap()
    }

    #[tokio::test]
    async fn the_keeper_writes_what_waited_too_long_for_idle_time() {
        let (handle, pending, mut committed, _) = starved(Duration::from_millis(50), 1 << 20);
        let ex = record(&handle, &pending, "/late");
        assert_eq!(next(&mut committed).await.id, ex.id);
        assert!(pending.is_empty());
    }

    #[tokio::test]
    async fn past_the_takeover_mark_the_keeper_writes_without_waiting() {
        // Never stalls for long enough: only the mark can start the keeper. Each of these
        // records weighs a little over half the mark (a quarter of the 4 KiB bound), so
        // the second passes it.
        let (handle, pending, mut committed, _) = starved(Duration::from_secs(3600), 4096);
        let first = record(&handle, &pending, "/1");
        let second = record(&handle, &pending, "/2");
        assert_eq!(next(&mut committed).await.id, first.id);
        assert_eq!(next(&mut committed).await.id, second.id);
    }

    #[tokio::test]
    async fn a_flush_is_written_at_once_with_what_came_before_it() {
        let (handle, pending, mut committed, _) = starved(Duration::from_secs(3600), 1 << 20);
        let ex = record(&handle, &pending, "/before");
        let (tx, rx) = oneshot::channel();
        handle.send(Op::Flush(tx)).unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("the flush is answered")
            .unwrap()
            .unwrap();
        // Announced before the flush was answered.
        assert_eq!(committed.try_recv().unwrap().id, ex.id);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_writes_what_is_queued_and_ends_the_threads() {
        let (handle, pending, mut committed, shared) = starved(Duration::from_secs(3600), 1 << 20);
        let ex = record(&handle, &pending, "/last");
        drop(handle);
        assert_eq!(next(&mut committed).await.id, ex.id);
        for _ in 0..1000 {
            if shared.upgrade().is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the keeper did not end");
    }

    #[tokio::test]
    async fn without_a_helper_the_keeper_writes_records_and_flushes_alone() {
        let (handle, pending, mut committed, _) = writing(Duration::from_secs(3600), 1 << 20, None);
        let first = record(&handle, &pending, "/window");
        assert_eq!(next(&mut committed).await.id, first.id);
        let second = record(&handle, &pending, "/flushed");
        let (tx, rx) = oneshot::channel();
        handle.send(Op::Flush(tx)).unwrap();
        rx.await.unwrap().unwrap();
        assert_eq!(committed.try_recv().unwrap().id, second.id);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_helper_runs_under_sched_idle() {
        use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let policy = std::thread::spawn(|| {
            idle_policy().unwrap();
            thread_priority::unix::thread_schedule_policy().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
    }
}
