//! The store writer's thread: it takes operations in order, gathers records for a short
//! group-commit window, and commits each batch in one transaction.
//!
//! One thread at normal priority, so a record is committed within milliseconds of its
//! exchange ending whatever else the machine is doing (an earlier design wrote with idle
//! CPU only, and under load records then waited hundreds of milliseconds).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use super::writer::{Op, Writer};

/// How long the writer waits for more records before committing a batch. Each commit
/// rewrites a few pages whatever its size (the last leaf, the root, the freelist), so
/// fuller batches cost less per record, while a record still shows up within a frame of
/// the TUI. Under load the batches fill without waiting: records queue while the
/// previous batch is written.
const GROUP_COMMIT_WINDOW: Duration = Duration::from_millis(5);

/// Largest number of operations committed in one transaction.
const MAX_BATCH: usize = 256;

/// The way to the writer thread. When the last handle is dropped, the thread writes what
/// is queued and ends.
#[derive(Clone)]
pub struct Handle {
    ops: Sender<Op>,
}

impl Handle {
    /// Queues `op`.
    pub fn send(&self, op: Op) -> Result<(), std::sync::mpsc::SendError<Op>> {
        self.ops.send(op)
    }
}

/// Starts the thread that runs `writer`.
pub fn spawn(writer: Writer) -> anyhow::Result<Handle> {
    let (ops, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("hooktap-store".into())
        .spawn(move || run(writer, rx))?;
    Ok(Handle { ops })
}

fn run(mut writer: Writer, ops: Receiver<Op>) {
    while let Ok(first) = ops.recv() {
        let mut batch = vec![first];
        gather(&ops, &mut batch);
        writer.apply(batch);
    }
}

/// Adds to `batch` what arrives within the window, up to [`MAX_BATCH`]. A flush, a clear
/// or a record someone waits for ends the gathering: it is committed at once.
fn gather(ops: &Receiver<Op>, batch: &mut Vec<Op>) {
    let deadline = Instant::now() + GROUP_COMMIT_WINDOW;
    while batch.len() < MAX_BATCH && !batch.last().is_some_and(Op::is_urgent) {
        let next = match ops.try_recv() {
            Ok(op) => op,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return;
                }
                match ops.recv_timeout(left) {
                    Ok(op) => op,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
                }
            }
        };
        batch.push(next);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rusqlite::Connection;
    use tokio::sync::{broadcast, oneshot};

    use super::*;
    use crate::exchange::Exchange;
    use crate::store::pending::Pending;
    use crate::store::schema;
    use crate::store::tests::exchange;
    use crate::store::writer::Insert;

    fn writing() -> (Handle, Arc<Pending>, broadcast::Receiver<Arc<Exchange>>) {
        let conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn, true).unwrap();
        let (events, committed) = broadcast::channel(64);
        let pending = Arc::new(Pending::new(1 << 20));
        let writer = Writer::new(
            conn,
            super::super::Retention::default(),
            None,
            events,
            pending.clone(),
        )
        .unwrap();
        (spawn(writer).unwrap(), pending, committed)
    }

    fn record(handle: &Handle, pending: &Pending, path: &str) -> Exchange {
        let ex = exchange(path);
        let admitted = pending.admit(&ex).unwrap();
        handle
            .send(Op::Insert(Insert::new(ex.clone(), admitted.size)))
            .unwrap();
        ex
    }

    #[tokio::test]
    async fn records_are_committed_after_the_window_and_flushes_at_once() {
        let (handle, pending, mut committed) = writing();
        let first = record(&handle, &pending, "/window");
        let got = tokio::time::timeout(Duration::from_secs(10), committed.recv())
            .await
            .expect("committed")
            .unwrap();
        assert_eq!(got.id, first.id);
        let second = record(&handle, &pending, "/flushed");
        let (tx, rx) = oneshot::channel();
        handle.send(Op::Flush(tx)).unwrap();
        rx.await.unwrap().unwrap();
        // Announced before the flush was answered.
        assert_eq!(committed.try_recv().unwrap().id, second.id);
        assert_eq!(pending.bytes(), 0);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_writes_what_is_queued() {
        let (handle, pending, mut committed) = writing();
        let ex = record(&handle, &pending, "/last");
        drop(handle);
        let got = tokio::time::timeout(Duration::from_secs(10), committed.recv())
            .await
            .expect("written on the way out")
            .unwrap();
        assert_eq!(got.id, ex.id);
    }
}
