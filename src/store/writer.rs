//! The store's writer thread: batches inserts into transactions and applies retention.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{broadcast, oneshot};

use super::pending::Pending;
use super::{VerdictFn, schema};
use crate::exchange::Exchange;

/// Work for the writer thread.
pub enum Op {
    /// Record an exchange; the room it holds in the queue (see [`Pending`]).
    Insert(Box<Exchange>, usize),
    /// Delete every exchange.
    Clear(oneshot::Sender<anyhow::Result<()>>),
    /// Answer once everything before this is committed.
    Flush(oneshot::Sender<anyhow::Result<()>>),
}

/// How long the writer waits for more records before committing a batch. Each commit
/// rewrites a few pages whatever its size (the last leaf, the root, the freelist), so
/// fuller batches cost less per record: 5 ms rather than 2 ms took the writer's CPU per
/// record down by about 5% at 20 000 records/s (`cargo bench --bench store`, medians of
/// four interleaved runs), while a record still shows up within a frame of the TUI.
const GROUP_COMMIT_WINDOW: Duration = Duration::from_millis(5);

/// Largest number of operations committed in one transaction.
const MAX_BATCH: usize = 256;

/// The way to the writer thread: operations, and a wake-up for those that must not wait
/// out the group-commit window.
#[derive(Clone)]
pub struct Handle {
    ops: Sender<Op>,
    thread: std::thread::Thread,
}

impl Handle {
    /// Queues `op`; a record waits for the window, a flush or clear commits at once.
    pub fn send(&self, op: Op) -> Result<(), std::sync::mpsc::SendError<Op>> {
        let urgent = !matches!(op, Op::Insert(..));
        self.ops.send(op)?;
        if urgent {
            self.thread.unpark();
        }
        Ok(())
    }
}

/// Starts the writer thread on `conn`.
pub fn spawn(
    conn: Connection,
    retain: usize,
    verdict: Option<VerdictFn>,
    events: broadcast::Sender<Arc<Exchange>>,
    pending: Arc<Pending>,
) -> anyhow::Result<Handle> {
    let count = stored_count(&conn)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut writer = Writer {
        conn,
        retain: retain.max(1),
        count,
        verdict,
        events,
        pending,
    };
    let thread = std::thread::Builder::new()
        .name("hooktap-store".into())
        .spawn(move || writer.run(rx))?
        .thread()
        .clone();
    Ok(Handle { ops: tx, thread })
}

/// How many exchanges the store holds.
fn stored_count(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("SELECT COUNT(*) FROM exchanges", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

struct Writer {
    conn: Connection,
    retain: usize,
    count: usize,
    verdict: Option<VerdictFn>,
    events: broadcast::Sender<Arc<Exchange>>,
    pending: Arc<Pending>,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Op>) {
        while let Ok(first) = rx.recv() {
            // Group commit: a commit costs far more than a row (WAL frames, checksums), so
            // let a moment's records gather first. Parking rather than waiting on the
            // channel means senders of records never pay to wake this thread mid-window;
            // a flush or clear unparks it, so it commits at once. Only the record's
            // appearance is delayed, never a delivery.
            if matches!(first, Op::Insert(..)) {
                std::thread::park_timeout(GROUP_COMMIT_WINDOW);
            }
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.apply(batch);
        }
    }

    fn apply(&mut self, batch: Vec<Op>) {
        let queued = batch
            .iter()
            .map(|op| match op {
                Op::Insert(_, size) => *size,
                _ => 0,
            })
            .sum();
        let mut committed = Vec::new();
        let mut replies = Vec::new();
        let result = self.write(batch, &mut committed, &mut replies);
        if let Err(err) = &result {
            tracing::error!("could not write to the store: {err:#}");
            // The transaction rolled back: the rows counted in it are not there.
            if let Ok(count) = stored_count(&self.conn) {
                self.count = count;
            }
        }
        // Written or not, the batch's records no longer wait in memory.
        self.pending.release(queued);
        // Announce before answering flushes: after a flush, its records' events are out.
        if result.is_ok() {
            for ex in committed {
                let _ = self.events.send(Arc::new(ex));
            }
        }
        for reply in replies {
            let _ = reply.send(match &result {
                Ok(()) => Ok(()),
                Err(err) => Err(anyhow::anyhow!("{err:#}")),
            });
        }
    }

    fn write(
        &mut self,
        batch: Vec<Op>,
        committed: &mut Vec<Exchange>,
        replies: &mut Vec<oneshot::Sender<anyhow::Result<()>>>,
    ) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        let mut insert = schema::insert_statement(&tx)?;
        for op in batch {
            match op {
                Op::Insert(mut ex, _) => {
                    if let Some(verdict) = &self.verdict {
                        ex.verdict = verdict(&ex);
                    }
                    schema::insert(&mut insert, &ex)?;
                    self.count += 1;
                    committed.push(*ex);
                }
                Op::Clear(reply) => {
                    tx.execute("DELETE FROM exchanges", [])?;
                    self.count = 0;
                    replies.push(reply);
                }
                Op::Flush(reply) => replies.push(reply),
            }
        }
        drop(insert);
        if self.count > self.retain {
            // Ids sort by time, so the smallest ids are the oldest records.
            let excess = self.count - self.retain;
            // The newest of the rows to go, then a plain range delete on the rowid.
            let last: Option<i64> = tx
                .prepare_cached("SELECT id FROM exchanges ORDER BY id LIMIT 1 OFFSET ?1")?
                .query_row([excess as i64 - 1], |row| row.get(0))
                .optional()?;
            if let Some(last) = last {
                let deleted = tx
                    .prepare_cached("DELETE FROM exchanges WHERE id <= ?1")?
                    .execute([last])?;
                self.count -= deleted;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
