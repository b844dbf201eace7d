//! The offline queue: requests for a known name whose agent is away, kept in SQLite under
//! `--data-dir` until the agent comes back; also the names the relay has handed out and
//! who holds them, so both survive a restart.

pub mod counts;
pub mod dead;
pub mod names;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use rusqlite::{Connection, MAIN_DB, OptionalExtension, params};

use super::room::Accounts;
pub use super::room::{Bounds, Refused, Reservation};
use super::spool::{SPOOL_BUFFER, SpoolDir, Spooled};
use crate::exchange::Header;
use counts::{count_dead, forget, stored_per_name};

/// One queued request, without its body (read with [`Queue::body_chunk`]).
#[derive(Clone, Debug)]
pub struct QueuedRequest {
    /// The queue entry id.
    pub id: i64,
    /// The tunnel it is for.
    pub name: String,
    /// When the relay received it, µs since the epoch.
    pub arrived_us: i64,
    /// The method.
    pub method: String,
    /// Path and query as the app will see them.
    pub uri: String,
    /// Headers as they go into the tunnel.
    pub headers: Vec<Header>,
    /// The body's length.
    pub body_len: u64,
    /// Failed deliveries so far.
    pub attempts: u32,
}

/// What a request to be queued carries besides its body.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// The tunnel it is for.
    pub name: String,
    /// When the relay received it, µs since the epoch.
    pub arrived_us: i64,
    /// The method.
    pub method: String,
    /// Path and query as the app will see them.
    pub uri: String,
    /// Headers as they go into the tunnel.
    pub headers: Vec<Header>,
}

/// The durable queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    conn: Arc<Mutex<Connection>>,
    pub(super) depth: Arc<AtomicU64>,
    pub(super) dead: Arc<AtomicU64>,
    /// The database's `data_version` when the counts were last made: see [`Queue::refresh`].
    pub(super) data_version: Arc<AtomicI64>,
    pub(super) accounts: Accounts,
    spool: Arc<SpoolDir>,
    instance: Arc<str>,
}

impl Queue {
    /// Opens `<dir>/relay.db`, or a memory-only queue without a directory.
    pub fn open(dir: Option<&Path>) -> anyhow::Result<Self> {
        let conn = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("could not create --data-dir {}", dir.display()))?;
                let path = dir.join("relay.db");
                let conn = Connection::open(&path)
                    .with_context(|| format!("could not open the queue {}", path.display()))?;
                // `hooktap relay names`/`release` may write while the relay runs.
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                // A 202 promises the request survives an OS crash or power loss: each
                // commit reaches the disk (WAL with NORMAL would only survive the
                // relay's own crash).
                conn.pragma_update(None, "synchronous", "FULL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS names (
                 name TEXT PRIMARY KEY,
                 owner BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS queue (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 name TEXT NOT NULL,
                 arrived_us INTEGER NOT NULL,
                 method TEXT NOT NULL,
                 uri TEXT NOT NULL,
                 headers BLOB NOT NULL,
                 body BLOB NOT NULL
             );
             CREATE INDEX IF NOT EXISTS queue_by_name ON queue (name, id);
             CREATE TABLE IF NOT EXISTS meta (
                 key TEXT PRIMARY KEY,
                 value TEXT NOT NULL
             );",
        )
        .context("could not prepare the queue database")?;
        names::migrate(&conn).context("could not prepare the queue database")?;
        dead::migrate(&conn).context("could not prepare the queue database")?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?1)",
            [hex::encode(rand::random::<[u8; 8]>())],
        )?;
        let instance: String =
            conn.query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
                r.get(0)
            })?;
        let accounts = Accounts::default();
        let (stored, depth) = stored_per_name(&conn)?;
        accounts.set_all_stored(&stored);
        let dead = count_dead(&conn)?;
        let data_version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            depth: Arc::new(AtomicU64::new(depth)),
            dead: Arc::new(AtomicU64::new(dead)),
            data_version: Arc::new(AtomicI64::new(data_version)),
            accounts,
            spool: Arc::new(SpoolDir::open(dir)?),
            instance: instance.into(),
        })
    }

    /// Requests queued over all names (dead letters included).
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Body bytes queued and reserved over all names.
    pub fn bytes(&self) -> u64 {
        self.accounts.total()
    }

    /// Requests kept aside after too many failed deliveries.
    pub fn dead_letters(&self) -> u64 {
        self.dead.load(Ordering::Relaxed)
    }

    /// This queue database's random id: with an entry's id it names a queued request
    /// uniquely, also across relays (`x-hooktap-queued-id: <instance>-<id>`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Where bodies are spooled before they are queued.
    pub fn spool_dir(&self) -> &SpoolDir {
        &self.spool
    }

    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .context("the queue task failed")?
        .context("the queue database failed")
    }

    /// Requests (dead letters included) and body bytes queued for `name`.
    pub async fn usage(&self, name: &str) -> anyhow::Result<(u64, u64)> {
        let name = name.to_string();
        self.blocking(move |c| usage(c, &name)).await
    }

    /// Requests waiting for delivery to `name` (dead letters not included).
    pub async fn pending(&self, name: &str) -> anyhow::Result<u64> {
        let name = name.to_string();
        self.blocking(move |c| {
            c.query_row(
                &format!(
                    "SELECT COUNT(*) FROM queue q LEFT JOIN queue_attempts a ON a.id = q.id
                     WHERE q.name = ?1 AND {}",
                    dead::DELIVERABLE
                ),
                [name],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .map(|n| n.max(0) as u64)
    }

    /// Reserves room for one request for `name` of `declared` bytes (0 when its length
    /// is not known: the reservation then grows as the body arrives).
    pub async fn reserve(
        &self,
        name: &str,
        declared: u64,
        bounds: Bounds,
    ) -> anyhow::Result<Result<Reservation, Refused>> {
        let name = name.to_string();
        let accounts = self.accounts.clone();
        // What is stored is read afresh (`hooktap relay release` may have freed room),
        // under the connection's lock, so no write moves it meanwhile.
        self.blocking(move |c| {
            let (count, bytes) = usage(c, &name)?;
            accounts.set_stored(&name, count, bytes);
            Ok(accounts.reserve(&name, declared, bounds))
        })
        .await
    }

    /// Stores a spooled request at the end of its name's queue; returns its id. The body
    /// is copied from the spool file into the database in small pieces.
    pub async fn push(&self, arrival: Arrival, spooled: Spooled) -> anyhow::Result<i64> {
        let depth = self.depth.clone();
        self.blocking(move |c| {
            let Spooled {
                file,
                len,
                reservation,
            } = spooled;
            let mut source = std::fs::File::open(file.path())
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO queue (name, arrived_us, method, uri, headers, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, zeroblob(?6))",
                params![
                    arrival.name,
                    arrival.arrived_us,
                    arrival.method,
                    arrival.uri,
                    encode_headers(&arrival.headers),
                    len as i64,
                ],
            )?;
            let id = tx.last_insert_rowid();
            {
                let mut blob = tx.blob_open(MAIN_DB, "queue", "body", id, false)?;
                copy(&mut source, &mut blob)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            }
            tx.commit()?;
            reservation.stored(len);
            depth.fetch_add(1, Ordering::Relaxed);
            Ok(id)
        })
        .await
    }

    /// The oldest request for `name` still to be delivered (not a dead letter).
    pub async fn oldest(&self, name: &str) -> anyhow::Result<Option<QueuedRequest>> {
        let name = name.to_string();
        self.blocking(move |c| {
            c.query_row(
                &format!(
                    "SELECT q.id, q.name, q.arrived_us, q.method, q.uri, q.headers,
                            LENGTH(q.body), COALESCE(a.attempts, 0)
                     FROM queue q LEFT JOIN queue_attempts a ON a.id = q.id
                     WHERE q.name = ?1 AND {} ORDER BY q.id LIMIT 1",
                    dead::DELIVERABLE
                ),
                [name],
                |r| {
                    let headers: Vec<u8> = r.get(5)?;
                    Ok(QueuedRequest {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        arrived_us: r.get(2)?,
                        method: r.get(3)?,
                        uri: r.get(4)?,
                        headers: decode_headers(&headers),
                        body_len: r.get::<_, i64>(6)?.max(0) as u64,
                        attempts: r.get::<_, i64>(7)?.clamp(0, i64::from(u32::MAX)) as u32,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Up to `len` bytes of the body of entry `id`, from `offset`.
    pub async fn body_chunk(&self, id: i64, offset: u64, len: usize) -> anyhow::Result<Bytes> {
        // Allocated here rather than on the blocking thread: the chunk is freed on a
        // runtime thread, and memory freed across threads comes back to the allocator
        // only when the thread that took it allocates again (a blocking thread may not).
        let mut chunk = vec![0; len];
        let chunk = self
            .blocking(move |c| {
                let blob = c.blob_open(MAIN_DB, "queue", "body", id, true)?;
                let offset = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = blob.len().min(offset.saturating_add(len));
                chunk.truncate(end.saturating_sub(offset));
                let read = blob.read_at(&mut chunk, offset)?;
                chunk.truncate(read);
                Ok(chunk)
            })
            .await?;
        Ok(Bytes::from(chunk))
    }

    /// Removes a delivered request.
    pub async fn delete(&self, id: i64) -> anyhow::Result<()> {
        let (accounts, depth) = (self.accounts.clone(), self.depth.clone());
        self.blocking(move |c| {
            // Not `DELETE … RETURNING LENGTH(body)`: that reads the whole body into
            // memory, where `LENGTH` alone reads only the row's header.
            let removed: Option<(String, i64)> = c
                .query_row(
                    "SELECT name, LENGTH(body) FROM queue WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((name, bytes)) = removed else {
                return Ok(());
            };
            c.execute("DELETE FROM queue WHERE id = ?1", [id])?;
            c.execute("DELETE FROM queue_attempts WHERE id = ?1", [id])?;
            accounts.removed(&name, bytes.max(0) as u64);
            forget(&depth, 1);
            Ok(())
        })
        .await
    }
}

/// Copies `source` into `blob` through a [`SPOOL_BUFFER`]-sized buffer.
fn copy(source: &mut impl std::io::Read, blob: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut buffer = vec![0; SPOOL_BUFFER];
    loop {
        let read = source.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        blob.write_all(&buffer[..read])?;
    }
}

fn usage(c: &Connection, name: &str) -> rusqlite::Result<(u64, u64)> {
    c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM queue WHERE name = ?1",
        [name],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )
}

/// Headers as `name: value\r\n` lines (values never hold CR or LF).
fn encode_headers(headers: &[Header]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn decode_headers(bytes: &[u8]) -> Vec<Header> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = line[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&line[colon + 1..]);
            Some((name, value.to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
