//! The SQLite side of the store's writer: a batch of operations in one transaction, ids
//! kept unique across processes, and retention by count and by bytes. The thread that
//! runs it is in `threads`.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{broadcast, oneshot};

use super::pending::Pending;
use super::{Retention, VerdictFn, schema};
use crate::exchange::Exchange;

/// A record to write.
pub struct Insert {
    /// The exchange; its id may change if another process took it (see [`Writer`]).
    pub exchange: Box<Exchange>,
    /// The room it holds in the queue (see [`Pending`]).
    pub size: usize,
    /// Told the record as committed, with its final id.
    pub committed: Option<oneshot::Sender<Arc<Exchange>>>,
    /// The relay's id of the queued request it records.
    pub queued_id: Option<String>,
}

impl Insert {
    /// A record nobody waits for.
    #[cfg(test)]
    pub fn new(exchange: Exchange, size: usize) -> Self {
        Self {
            exchange: Box::new(exchange),
            size,
            committed: None,
            queued_id: None,
        }
    }
}

/// Work for the writer.
pub enum Op {
    /// Record an exchange.
    Insert(Insert),
    /// Delete every exchange.
    Clear(oneshot::Sender<anyhow::Result<()>>),
    /// Answer once everything before this is committed.
    Flush(oneshot::Sender<anyhow::Result<()>>),
}

impl Op {
    /// Whether someone waits for this operation: commit it without waiting for more.
    pub fn is_urgent(&self) -> bool {
        match self {
            Op::Insert(insert) => insert.committed.is_some(),
            Op::Clear(_) | Op::Flush(_) => true,
        }
    }
}

/// The bytes a record takes in the store (bodies and headers), as retention counts them.
const STORED_BYTES: &str = "length(req_body) + length(req_headers) + ifnull(length(resp_body), 0) \
     + ifnull(length(resp_headers), 0)";

/// How many exchanges the store holds, and their bytes.
fn stored_totals(conn: &Connection) -> rusqlite::Result<(usize, u64)> {
    conn.query_row(
        &format!("SELECT COUNT(*), ifnull(SUM({STORED_BYTES}), 0) FROM exchanges"),
        [],
        |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as u64)),
    )
}

/// The SQLite side of the writer: a batch of operations in one transaction.
///
/// Ids are made by each process (`ExchangeId::generate`), so two processes writing one
/// store (two `listen`s, or `listen` and `replay`) can pick the same one. The primary key
/// refuses the second: the writer then takes the next free id, so no record replaces
/// another, and the committed record (its event, or the reply to whoever waits for it)
/// carries the id it was stored under.
pub struct Writer {
    conn: Connection,
    retain: Retention,
    count: usize,
    bytes: u64,
    verdict: Option<VerdictFn>,
    events: broadcast::Sender<Arc<Exchange>>,
    pending: Arc<Pending>,
}

impl Writer {
    /// A writer on `conn`, keeping the newest exchanges within `retain`.
    pub fn new(
        conn: Connection,
        retain: Retention,
        verdict: Option<VerdictFn>,
        events: broadcast::Sender<Arc<Exchange>>,
        pending: Arc<Pending>,
    ) -> rusqlite::Result<Self> {
        let (count, bytes) = stored_totals(&conn)?;
        Ok(Self {
            count,
            bytes,
            conn,
            retain,
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
                Op::Insert(insert) => insert.size,
                _ => 0,
            })
            .sum();
        let mut committed = Vec::new();
        let mut replies = Vec::new();
        let result = self.write(batch, &mut committed, &mut replies);
        if let Err(err) = &result {
            tracing::error!("could not write to the store: {err:#}");
            // The transaction rolled back: the rows counted in it are not there.
            if let Ok((count, bytes)) = stored_totals(&self.conn) {
                self.count = count;
                self.bytes = bytes;
            }
        }
        // Written or not, the batch's records no longer wait in memory.
        self.pending.release(queued);
        // Announce before answering flushes: after a flush, its records' events are out.
        if result.is_ok() {
            for (ex, waiter) in committed {
                let ex = Arc::new(ex);
                let _ = self.events.send(ex.clone());
                if let Some(waiter) = waiter {
                    let _ = waiter.send(ex);
                }
            }
        }
        for reply in replies {
            let _ = reply.send(match &result {
                Ok(()) => Ok(()),
                Err(err) => Err(anyhow::anyhow!("{err:#}")),
            });
        }
    }

    #[allow(clippy::type_complexity)]
    fn write(
        &mut self,
        batch: Vec<Op>,
        committed: &mut Vec<(Exchange, Option<oneshot::Sender<Arc<Exchange>>>)>,
        replies: &mut Vec<oneshot::Sender<anyhow::Result<()>>>,
    ) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        let mut insert = schema::insert_statement(&tx)?;
        for op in batch {
            match op {
                Op::Insert(Insert {
                    mut exchange,
                    committed: waiter,
                    queued_id,
                    ..
                }) => {
                    if let Some(verdict) = &self.verdict {
                        exchange.verdict = verdict(&exchange);
                    }
                    self.bytes += insert_unique(&mut insert, &mut exchange, queued_id.as_deref())?;
                    self.count += 1;
                    committed.push((*exchange, waiter));
                }
                Op::Clear(reply) => {
                    tx.execute("DELETE FROM exchanges", [])?;
                    self.count = 0;
                    self.bytes = 0;
                    replies.push(reply);
                }
                Op::Flush(reply) => replies.push(reply),
            }
        }
        drop(insert);
        enforce_retention(&tx, self.retain, &mut self.count, &mut self.bytes)?;
        tx.commit()?;
        Ok(())
    }
}

/// Deletes the oldest records until the store is within both bounds; the newest
/// record always stays.
fn enforce_retention(
    tx: &rusqlite::Transaction<'_>,
    retain: Retention,
    count: &mut usize,
    bytes: &mut u64,
) -> rusqlite::Result<()> {
    let excess_count = count.saturating_sub(retain.count);
    let excess_bytes = bytes.saturating_sub(retain.bytes);
    if excess_count == 0 && excess_bytes == 0 {
        return Ok(());
    }
    // Ids sort by time, so the smallest ids are the oldest records: find the newest
    // of the rows to go, then delete a plain range on the rowid.
    let mut last = None;
    let (mut rows, mut freed) = (0usize, 0u64);
    {
        let mut oldest = tx.prepare_cached(&format!(
            "SELECT id, {STORED_BYTES} FROM exchanges ORDER BY id"
        ))?;
        let mut cursor = oldest.query([])?;
        while (rows < excess_count || freed < excess_bytes) && rows + 1 < *count {
            let Some(row) = cursor.next()? else { break };
            last = Some(row.get::<_, i64>(0)?);
            freed += row.get::<_, i64>(1)? as u64;
            rows += 1;
        }
    }
    if let Some(last) = last {
        let deleted = tx
            .prepare_cached("DELETE FROM exchanges WHERE id <= ?1")?
            .execute([last])?;
        *count -= deleted;
        *bytes = bytes.saturating_sub(freed);
    }
    Ok(())
}

/// Inserts `ex`, moving it to the next free id while another record holds its id; gives
/// the bytes it takes.
fn insert_unique(
    stmt: &mut rusqlite::Statement<'_>,
    ex: &mut Exchange,
    queued_id: Option<&str>,
) -> anyhow::Result<u64> {
    // Each clash is with a record another process made in the same millisecond: a few at
    // most. The bound only keeps a damaged store from looping.
    for _ in 0..100_000 {
        match schema::insert(stmt, ex, queued_id) {
            Ok(bytes) => return Ok(bytes),
            Err(err) if is_id_clash(&err) => {
                ex.id = ex
                    .id
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("no free id after {}", ex.id))?;
            }
            Err(err) => return Err(err.into()),
        }
    }
    anyhow::bail!("no free id near {}", ex.id)
}

fn is_id_clash(err: &rusqlite::Error) -> bool {
    err.sqlite_error()
        .is_some_and(|e| e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Body;
    use crate::store::tests::exchange;

    fn writer(retain: Retention) -> (Writer, broadcast::Receiver<Arc<Exchange>>) {
        let conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn, true).unwrap();
        let (events, rx) = broadcast::channel(64);
        let pending = Arc::new(Pending::new(1 << 20));
        (
            Writer::new(conn, retain, None, events, pending).unwrap(),
            rx,
        )
    }

    fn paths(writer: &Writer) -> Vec<String> {
        let mut stmt = writer
            .conn
            .prepare("SELECT uri FROM exchanges ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_record_whose_id_is_taken_gets_the_next_free_id_and_replaces_nothing() {
        let (mut writer, mut events) = writer(Retention::default());
        let a = exchange("/a");
        let mut b = exchange("/b");
        b.id = a.id.clone();
        let (tx, mut rx) = oneshot::channel();
        writer.apply(vec![
            Op::Insert(Insert::new(a.clone(), 0)),
            Op::Insert(Insert {
                exchange: Box::new(b),
                size: 0,
                committed: Some(tx),
                queued_id: None,
            }),
        ]);
        assert_eq!(paths(&writer), ["/a", "/b"], "both kept");
        let stored_b = rx.try_recv().expect("told the committed record");
        assert_eq!(stored_b.id, a.id.next().unwrap());
        assert_eq!(events.try_recv().unwrap().id, a.id);
        assert_eq!(
            events.try_recv().unwrap().id,
            stored_b.id,
            "the event has the new id"
        );
    }

    #[test]
    fn retention_by_bytes_deletes_the_oldest_but_keeps_the_newest() {
        let (mut writer, _events) = writer(Retention {
            count: 100,
            bytes: 2500,
        });
        let big = |path: &str| {
            let mut ex = exchange(path);
            ex.request.body = Body::full(vec![b'x'; 1000]);
            ex
        };
        for path in ["/1", "/2", "/3", "/4"] {
            writer.apply(vec![Op::Insert(Insert::new(big(path), 0))]);
        }
        assert_eq!(
            paths(&writer),
            ["/3", "/4"],
            "about 1 KiB each, 2 500 bytes kept"
        );
        let mut huge = exchange("/huge");
        huge.request.body = Body::full(vec![b'x'; 10_000]);
        writer.apply(vec![Op::Insert(Insert::new(huge, 0))]);
        assert_eq!(
            paths(&writer),
            ["/huge"],
            "the newest stays even alone over the bound"
        );
        assert!(writer.bytes > 10_000 && writer.count == 1);
    }
}
