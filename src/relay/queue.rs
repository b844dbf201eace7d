//! The offline queue: requests for a known name whose agent is away, kept in SQLite under
//! `--data-dir` until the agent comes back; also the names the relay has handed out and
//! who holds them, so both survive a restart.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use crate::exchange::Header;

/// One queued request.
#[derive(Clone, Debug)]
pub struct QueuedRequest {
    /// The queue entry id (0 before it is stored).
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
    /// The whole body.
    pub body: Bytes,
}

/// Per-name bounds of the queue.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Most requests held per name.
    pub max_requests: u64,
    /// Most body bytes held per name.
    pub max_bytes: u64,
}

/// The queue would go beyond its bounds.
#[derive(Debug, thiserror::Error)]
#[error("the offline queue for this tunnel is full")]
pub struct QueueFull;

/// The durable queue; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    conn: Arc<Mutex<Connection>>,
    depth: Arc<AtomicU64>,
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
             CREATE INDEX IF NOT EXISTS queue_by_name ON queue (name, id);",
        )
        .context("could not prepare the queue database")?;
        super::names::migrate(&conn).context("could not prepare the queue database")?;
        let depth: i64 = conn.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            depth: Arc::new(AtomicU64::new(depth.max(0) as u64)),
        })
    }

    /// Requests queued over all names.
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Lowers the depth after `removed` requests left the queue outside [`Queue::delete`].
    pub(super) fn forget(&self, removed: u64) {
        self.depth
            .fetch_sub(removed.min(self.depth()), Ordering::Relaxed);
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

    /// Requests and body bytes queued for `name`.
    pub async fn usage(&self, name: &str) -> anyhow::Result<(u64, u64)> {
        let name = name.to_string();
        self.blocking(move |c| usage(c, &name)).await
    }

    /// Stores `request` at the end of its name's queue; returns its id.
    pub async fn push(
        &self,
        request: QueuedRequest,
        bounds: Bounds,
    ) -> anyhow::Result<Result<i64, QueueFull>> {
        let result = self
            .blocking(move |c| {
                let tx = c.transaction()?;
                let (count, bytes) = usage(&tx, &request.name)?;
                if count + 1 > bounds.max_requests
                    || bytes + request.body.len() as u64 > bounds.max_bytes
                {
                    return Ok(Err(QueueFull));
                }
                tx.execute(
                    "INSERT INTO queue (name, arrived_us, method, uri, headers, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        request.name,
                        request.arrived_us,
                        request.method,
                        request.uri,
                        encode_headers(&request.headers),
                        request.body.as_ref(),
                    ],
                )?;
                let id = tx.last_insert_rowid();
                tx.commit()?;
                Ok(Ok(id))
            })
            .await?;
        if result.is_ok() {
            self.depth.fetch_add(1, Ordering::Relaxed);
        }
        Ok(result)
    }

    /// The oldest request queued for `name`.
    pub async fn oldest(&self, name: &str) -> anyhow::Result<Option<QueuedRequest>> {
        let name = name.to_string();
        self.blocking(move |c| {
            c.query_row(
                "SELECT id, name, arrived_us, method, uri, headers, body FROM queue
                 WHERE name = ?1 ORDER BY id LIMIT 1",
                [name],
                |r| {
                    let headers: Vec<u8> = r.get(5)?;
                    let body: Vec<u8> = r.get(6)?;
                    Ok(QueuedRequest {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        arrived_us: r.get(2)?,
                        method: r.get(3)?,
                        uri: r.get(4)?,
                        headers: decode_headers(&headers),
                        body: Bytes::from(body),
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Removes a delivered request.
    pub async fn delete(&self, id: i64) -> anyhow::Result<()> {
        let removed = self
            .blocking(move |c| c.execute("DELETE FROM queue WHERE id = ?1", [id]))
            .await?;
        if removed > 0 {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
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
mod tests {
    use super::*;

    fn request(name: &str, body: &'static [u8]) -> QueuedRequest {
        QueuedRequest {
            id: 0,
            name: name.into(),
            arrived_us: 7,
            method: "POST".into(),
            uri: "/hook?a=1".into(),
            headers: vec![
                ("x-a".into(), b"1".to_vec()),
                ("x-a".into(), b"2: b".to_vec()),
            ],
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn the_queue_commits_to_disk_before_answering() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(Some(dir.path())).unwrap();
        let conn = queue.conn.lock().unwrap();
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "synchronous=FULL");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn queues_in_order_within_bounds_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let bounds = Bounds {
            max_requests: 2,
            max_bytes: 10,
        };
        {
            let queue = Queue::open(Some(dir.path())).unwrap();
            queue
                .push(request("a", b"first"), bounds)
                .await
                .unwrap()
                .unwrap();
            queue
                .push(request("a", b"second"), bounds)
                .await
                .unwrap()
                .unwrap_err();
            queue
                .push(request("a", b"2nd"), bounds)
                .await
                .unwrap()
                .unwrap();
            queue
                .push(request("a", b"x"), bounds)
                .await
                .unwrap()
                .unwrap_err();
            queue.claim("a", [1; 32], false, false).await.unwrap();
        }
        let queue = Queue::open(Some(dir.path())).unwrap();
        assert_eq!(queue.depth(), 2);
        assert_eq!(queue.owner("a").await.unwrap(), Some([1; 32]));
        let first = queue.oldest("a").await.unwrap().unwrap();
        assert_eq!(first.body.as_ref(), b"first");
        assert_eq!(first.headers, request("a", b"").headers);
        queue.delete(first.id).await.unwrap();
        assert_eq!(
            queue.oldest("a").await.unwrap().unwrap().body.as_ref(),
            b"2nd"
        );
        assert!(queue.oldest("b").await.unwrap().is_none());
        assert_eq!(queue.depth(), 1);
    }
}
