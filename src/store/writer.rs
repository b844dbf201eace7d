//! The SQLite side of the store's writer: a batch of operations in one transaction, with
//! retention. The threads that run it are in `threads`.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{broadcast, oneshot};

use super::pending::Pending;
use super::{VerdictFn, schema};
use crate::exchange::Exchange;

/// Work for the writer.
pub enum Op {
    /// Record an exchange; the room it holds in the queue (see [`Pending`]).
    Insert(Box<Exchange>, usize),
    /// Delete every exchange.
    Clear(oneshot::Sender<anyhow::Result<()>>),
    /// Answer once everything before this is committed.
    Flush(oneshot::Sender<anyhow::Result<()>>),
}

/// How many exchanges the store holds.
fn stored_count(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("SELECT COUNT(*) FROM exchanges", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

/// The SQLite side of the writer: a batch of operations in one transaction.
pub struct Writer {
    conn: Connection,
    retain: usize,
    count: usize,
    verdict: Option<VerdictFn>,
    events: broadcast::Sender<Arc<Exchange>>,
    pending: Arc<Pending>,
}

impl Writer {
    /// A writer on `conn`, keeping the newest `retain` exchanges.
    pub fn new(
        conn: Connection,
        retain: usize,
        verdict: Option<VerdictFn>,
        events: broadcast::Sender<Arc<Exchange>>,
        pending: Arc<Pending>,
    ) -> rusqlite::Result<Self> {
        Ok(Self {
            count: stored_count(&conn)?,
            conn,
            retain: retain.max(1),
            verdict,
            events,
            pending,
        })
    }

    /// Writes `batch` in one transaction, gives back its records' queue room, announces
    /// its records and answers its flushes and clears.
    pub fn apply(&mut self, batch: Vec<Op>) {
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
