//! The capture history: exchanges in an SQLite file (WAL), written by one background
//! thread off the forwarding path, and read by any process. Any number of processes may
//! write one store: ids never clash (see `writer`).

mod browse;
mod filter;
mod open_error;
mod pending;
mod query;
mod schema;
mod threads;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio::sync::broadcast;

use crate::exchange::{Exchange, ExchangeId};
use crate::signature::Verdict;

pub use filter::{Filter, StatusMatch, VerdictMatch};
pub use pending::DEFAULT_MAX_PENDING_BYTES;
use pending::Pending;
pub use query::{LookupError, Summary};
pub use schema::SCHEMA_VERSION;
use writer::{Insert, Op, Writer};

/// New-exchange events buffered per subscriber before a slow one misses some.
const EVENT_BUFFER: usize = 16 * 1024;

/// Default number of exchanges kept.
pub const DEFAULT_RETAIN: usize = 10_000;

/// Default bytes of bodies and headers kept in a store file.
pub const DEFAULT_RETAIN_BYTES: u64 = 1024 * 1024 * 1024;

/// Default bytes kept with `--store :memory:`, where they are the process's memory.
pub const DEFAULT_RETAIN_BYTES_MEMORY: u64 = 32 * 1024 * 1024;

/// How much history a store keeps: the oldest records go first once either bound is
/// passed (the newest record always stays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Records.
    pub count: usize,
    /// Bytes of bodies and headers.
    pub bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            count: DEFAULT_RETAIN,
            bytes: DEFAULT_RETAIN_BYTES,
        }
    }
}

/// Computes a verdict for an exchange before it is written (runs on the writer thread).
pub type VerdictFn = Arc<dyn Fn(&Exchange) -> Option<Verdict> + Send + Sync>;

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file on disk.
    File(PathBuf),
    /// Memory only, gone when the process ends (`--store :memory:`).
    Memory,
}

impl Location {
    /// Parses a `--store` value: `:memory:` or a path.
    pub fn parse(text: &str) -> Self {
        if text == ":memory:" {
            Location::Memory
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    /// The default store: `<data dir>/hooktap/hooktap.db`.
    pub fn default_file() -> anyhow::Result<Self> {
        let dir = dirs::data_dir()
            .context("could not find your data directory; pass --store PATH")?
            .join("hooktap");
        Ok(Location::File(dir.join("hooktap.db")))
    }
}

/// Options for opening a store for writing.
#[derive(Clone)]
pub struct Options {
    /// Where.
    pub location: Location,
    /// How many exchanges to keep (the oldest go first).
    pub retain: usize,
    /// How many bytes of bodies and headers to keep; `None`: [`DEFAULT_RETAIN_BYTES`],
    /// or [`DEFAULT_RETAIN_BYTES_MEMORY`] in memory.
    pub retain_bytes: Option<u64>,
    /// Verdict computation applied to every new exchange.
    pub verdict: Option<VerdictFn>,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    ops: threads::Handle,
    events: broadcast::Sender<Arc<Exchange>>,
    reader: Arc<Mutex<Connection>>,
    pending: Arc<Pending>,
}

impl Store {
    /// Opens (creating if needed) a store for recording, and starts its writer thread.
    pub fn open(options: Options) -> anyhow::Result<Self> {
        Self::open_with_pending_limit(options, DEFAULT_MAX_PENDING_BYTES)
    }

    /// [`Store::open`], with at most `max_pending` bytes of records waiting for the disk.
    pub fn open_with_pending_limit(options: Options, max_pending: usize) -> anyhow::Result<Self> {
        let (writer_conn, reader_conn) = match &options.location {
            Location::File(path) => {
                open_for_writing(path).map_err(|e| open_error::explain(path, true, e))?
            }
            Location::Memory => {
                // A named shared-cache memory database so the writer and reader
                // connections see the same data.
                let uri = format!(
                    "file:hooktap-{}?mode=memory&cache=shared",
                    crate::exchange::ExchangeId::generate()
                );
                let flags = OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI;
                let writer = Connection::open_with_flags(&uri, flags)?;
                schema::prepare(&writer, true)?;
                let reader = Connection::open_with_flags(&uri, flags)?;
                (writer, reader)
            }
        };
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let pending = Arc::new(Pending::new(max_pending));
        let retention = Retention {
            count: options.retain.max(1),
            bytes: options.retain_bytes.unwrap_or(match options.location {
                Location::File(_) => DEFAULT_RETAIN_BYTES,
                Location::Memory => DEFAULT_RETAIN_BYTES_MEMORY,
            }),
        };
        let writer = Writer::new(
            writer_conn,
            retention,
            options.verdict,
            events.clone(),
            pending.clone(),
        )?;
        let ops = threads::spawn(writer)?;
        Ok(Self {
            ops,
            events,
            reader: Arc::new(Mutex::new(reader_conn)),
            pending,
        })
    }

    /// Opens an existing store file for reading only (`requests`, `show`), also while
    /// `listen` writes to it.
    pub fn open_read_only(path: &Path) -> anyhow::Result<Reader> {
        if !path.exists() {
            anyhow::bail!(
                "no store at {}: run `hooktap listen` first, or pass --store PATH",
                path.display()
            );
        }
        let open = || {
            let conn = open_file(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            schema::prepare_read(&conn).with_context(|| describe(path))?;
            Ok(Reader { conn })
        };
        open().map_err(|e| open_error::explain(path, false, e))
    }

    /// Waits while the records waiting for the disk fill their bound: a delivery calls
    /// this before it starts, so recording slows the traffic briefly rather than growing
    /// memory. A writer stalled for seconds stops holding deliveries (their records are
    /// then dropped and counted).
    pub async fn room(&self) {
        self.pending.room().await;
    }

    /// Queues `exchange` for writing; never blocks. Only when the disk has stalled with
    /// the queue full is the record dropped and counted (see [`Store::dropped`]).
    pub fn record(&self, exchange: Exchange) {
        self.record_then(exchange, None);
    }

    /// [`Store::record`], telling `committed` the record once it is committed, with the
    /// id it is stored under (which differs from the exchange's when another process
    /// took that one). The record is committed without waiting for others.
    pub fn record_then(
        &self,
        exchange: Exchange,
        committed: Option<tokio::sync::oneshot::Sender<Arc<Exchange>>>,
    ) {
        self.record_queued_then(exchange, None, committed);
    }

    /// [`Store::record_then`] for a queued request the relay delivered, kept with the
    /// relay's `queued_id` (see [`Store::queued_record`]).
    pub fn record_queued_then(
        &self,
        exchange: Exchange,
        queued_id: Option<String>,
        committed: Option<tokio::sync::oneshot::Sender<Arc<Exchange>>>,
    ) {
        let Some(admitted) = self.pending.admit(&exchange) else {
            return;
        };
        let insert = Insert {
            exchange: Box::new(exchange),
            size: admitted.size,
            committed,
            queued_id,
        };
        // The thread keeps the receiver until every handle is gone: it cannot fail.
        let _ = self.ops.send(Op::Insert(insert));
    }

    /// Records dropped because the disk stalled with the writer's queue full.
    pub fn dropped(&self) -> u64 {
        self.pending.dropped()
    }

    /// New exchanges, each sent after it is committed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Exchange>> {
        self.events.subscribe()
    }

    /// Deletes every exchange; returns once done.
    pub async fn clear(&self) -> anyhow::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.ops
            .send(Op::Clear(tx))
            .map_err(|_| anyhow::anyhow!("the store writer has stopped"))?;
        rx.await.context("the store writer has stopped")?
    }

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) -> anyhow::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.ops
            .send(Op::Flush(tx))
            .map_err(|_| anyhow::anyhow!("the store writer has stopped"))?;
        rx.await.context("the store writer has stopped")?
    }

    /// The committed record of the queued request `queued_id` that reached the app, if
    /// any: the relay then delivered it before without hearing that it was recorded.
    /// Waits first for every record begun before to be committed.
    pub async fn queued_record(&self, queued_id: &str) -> anyhow::Result<Option<ExchangeId>> {
        self.flush().await?;
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let id: Option<i64> = conn
            .query_row(
                "SELECT id FROM exchanges WHERE queued_id = ?1 AND status IS NOT NULL LIMIT 1",
                [queued_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.map(|id| ExchangeId::from_u64(id as u64)))
    }

    /// The newest exchanges matching `filter`, newest first.
    pub fn list(&self, filter: &Filter) -> anyhow::Result<Vec<Summary>> {
        query::list(
            &self.reader.lock().unwrap_or_else(|e| e.into_inner()),
            filter,
        )
    }

    /// The exchange whose id starts with `prefix` (a unique prefix).
    pub fn get(&self, prefix: &str) -> Result<Exchange, LookupError> {
        query::get(
            &self.reader.lock().unwrap_or_else(|e| e.into_inner()),
            prefix,
        )
    }

    /// [`Store::list`] on a blocking thread: a slow query (a large store, a busy disk) never
    /// stalls the deliveries that share the runtime thread.
    pub async fn list_async(&self, filter: Filter) -> anyhow::Result<Vec<Summary>> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.list(&filter))
            .await
            .map_err(|e| anyhow::anyhow!("the store reader stopped: {e}"))?
    }

    /// [`Store::get`] on a blocking thread (see [`Store::list_async`]).
    pub async fn get_async(&self, prefix: String) -> Result<Exchange, LookupError> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.get(&prefix)).await {
            Ok(found) => found,
            // The closure does not panic; a runtime shutting down is the only other way.
            Err(_) => Err(LookupError::Store(rusqlite::Error::InvalidQuery)),
        }
    }

    /// The inspector's queries, on this store's reading connection.
    pub fn browse<T>(&self, work: impl FnOnce(&Browse<'_>) -> T) -> T {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        work(&Browse { conn: &conn })
    }
}

/// The inspector's queries (pages with delivery ids, tailing, text search) on one
/// connection; see [`Store::browse`] and [`Reader::browse`].
pub struct Browse<'a> {
    conn: &'a Connection,
}

impl Browse<'_> {
    /// At most `limit` summaries older than id `before` (all when `None`), newest first,
    /// with their delivery ids.
    pub fn page(&self, before: Option<u64>, limit: usize) -> anyhow::Result<Vec<Summary>> {
        browse::page(self.conn, before, limit)
    }

    /// The summaries of those `ids` that exist, ascending.
    pub fn summaries(&self, ids: &[u64]) -> anyhow::Result<Vec<Summary>> {
        browse::summaries(self.conn, ids)
    }

    /// The ids at or above `floor`, ascending.
    pub fn ids_from(&self, floor: u64) -> anyhow::Result<Vec<u64>> {
        browse::ids_from(self.conn, floor)
    }

    /// At most `limit` ids below `before`, newest first.
    pub fn ids_below(&self, before: u64, limit: usize) -> anyhow::Result<Vec<u64>> {
        browse::ids_below(self.conn, before, limit)
    }

    /// How many records the store holds.
    pub fn count(&self) -> anyhow::Result<u64> {
        browse::count(self.conn)
    }

    /// Changes whenever another connection commits (`PRAGMA data_version`).
    pub fn data_version(&self) -> anyhow::Result<i64> {
        browse::data_version(self.conn)
    }

    /// Ids in `[low, high)` whose path, headers or bodies contain all `words`
    /// (ASCII case-insensitive), newest first.
    pub fn search(&self, words: &[String], low: u64, high: u64) -> anyhow::Result<Vec<u64>> {
        browse::search(self.conn, words, low, high)
    }
}

/// The writer's and the reader's connections to the store file at `path`, creating it
/// (and its folder) if needed.
fn open_for_writing(path: &Path) -> anyhow::Result<(Connection, Connection)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsperm::create_dir_all(dir)
            .with_context(|| format!("could not create the store's folder {}", dir.display()))?;
    }
    // Created here, mode 0600, before SQLite would create it with the umask's mode; SQLite
    // gives the -wal and -shm files the database file's mode. A store an older hooktap
    // made readable by others is made private (when it is ours to change).
    crate::fsperm::touch_file(path).with_context(|| describe(path))?;
    let _ = crate::fsperm::restrict(path);
    let writer = open_file(path, OpenFlags::default())?;
    schema::prepare(&writer, false).with_context(|| describe(path))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        // Best effort, as for the file: a store shared with other users may be theirs.
        let _ = crate::fsperm::restrict(Path::new(&side));
    }
    let reader = open_file(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    reader.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok((writer, reader))
}

fn open_file(path: &Path, flags: OpenFlags) -> anyhow::Result<Connection> {
    Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| describe(path))
}

fn describe(path: &Path) -> String {
    format!("could not open the store {}", path.display())
}

/// Read-only access to a store file, for the commands that only look.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// The newest exchanges matching `filter`, newest first.
    pub fn list(&self, filter: &Filter) -> anyhow::Result<Vec<Summary>> {
        query::list(&self.conn, filter)
    }

    /// The exchange whose id starts with `prefix` (a unique prefix).
    pub fn get(&self, prefix: &str) -> Result<Exchange, LookupError> {
        query::get(&self.conn, prefix)
    }

    /// The inspector's queries on this connection.
    pub fn browse(&self) -> Browse<'_> {
        Browse { conn: &self.conn }
    }
}

#[cfg(test)]
mod tests;
