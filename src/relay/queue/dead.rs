//! Failed deliveries of the offline queue: each is counted for its entry, and an entry that
//! failed too often is kept aside as a dead letter (in the database, never dropped), so
//! the entries behind it are delivered. `hooktap relay queue` lists both kinds.

use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::Queue;

/// Creates the table of failed deliveries. It is kept apart from the entries because
/// SQLite rewrites a whole row on update: counting a failure in the entry's own row would
/// read and write its body again.
pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS queue_attempts (
             id INTEGER PRIMARY KEY, -- the queue entry's id
             attempts INTEGER NOT NULL,
             dead INTEGER NOT NULL,
             last_error TEXT
         );",
    )
}

/// The condition, on `queue q` left-joined with `queue_attempts a`, of an entry still to
/// be delivered.
pub(super) const DELIVERABLE: &str = "COALESCE(a.dead, 0) = 0";

/// One entry of the queue, as `hooktap relay queue` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry id (the `X-Hooktap-Queued` the sender got).
    pub id: i64,
    /// The tunnel it is for.
    pub name: String,
    /// When the relay received it, µs since the epoch.
    pub arrived_us: i64,
    /// The method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The body's length.
    pub body_len: u64,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// Kept aside after too many failed deliveries.
    pub dead: bool,
    /// Why the last delivery failed.
    pub last_error: Option<String>,
}

impl Queue {
    /// Counts a failed delivery of entry `id`; at `max_attempts` failures the entry
    /// becomes a dead letter. Returns whether it did.
    pub async fn failed(&self, id: i64, error: &str, max_attempts: u32) -> anyhow::Result<bool> {
        let error = error.to_string();
        let dead_letters = self.dead.clone();
        self.blocking(move |c| {
            let attempts: Option<i64> = rusqlite::OptionalExtension::optional(c.query_row(
                "INSERT INTO queue_attempts (id, attempts, dead, last_error)
                     SELECT ?1, 1, 1 >= ?3, ?2 WHERE EXISTS (SELECT 1 FROM queue WHERE id = ?1)
                     ON CONFLICT (id) DO UPDATE SET attempts = attempts + 1,
                         last_error = excluded.last_error, dead = (attempts + 1 >= ?3)
                     WHERE dead = 0
                     RETURNING attempts",
                rusqlite::params![id, error, i64::from(max_attempts)],
                |r| r.get(0),
            ))?;
            let dead = attempts.is_some_and(|a| a >= i64::from(max_attempts));
            // Counted under the connection's lock, like every change of the counts,
            // so a recount (`Queue::refresh`) never sees a change half-counted.
            if dead {
                dead_letters.fetch_add(1, Ordering::Relaxed);
            }
            Ok(dead)
        })
        .await
    }

    /// Every entry, oldest first.
    pub async fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.blocking(|c| {
            let mut statement = c.prepare(
                "SELECT q.id, q.name, q.arrived_us, q.method, q.uri, LENGTH(q.body),
                        COALESCE(a.attempts, 0), COALESCE(a.dead, 0), a.last_error
                 FROM queue q LEFT JOIN queue_attempts a ON a.id = q.id ORDER BY q.id",
            )?;
            let rows = statement.query_map([], |r| {
                Ok(Entry {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    arrived_us: r.get(2)?,
                    method: r.get(3)?,
                    uri: r.get(4)?,
                    body_len: r.get::<_, i64>(5)?.max(0) as u64,
                    attempts: r.get::<_, i64>(6)?.clamp(0, i64::from(u32::MAX)) as u32,
                    dead: r.get(7)?,
                    last_error: r.get(8)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_entry_becomes_a_dead_letter_after_its_attempts_and_stays_listed() {
        let queue = Queue::open(None).unwrap();
        queue
            .blocking(|c| {
                c.execute(
                    "INSERT INTO queue (name, arrived_us, method, uri, headers, body)
                     VALUES ('a', 1, 'POST', '/x', x'', x'0102')",
                    [],
                )
            })
            .await
            .unwrap();
        let id = queue.oldest("a").await.unwrap().unwrap().id;
        assert!(!queue.failed(id, "the app is down", 2).await.unwrap());
        assert_eq!(queue.oldest("a").await.unwrap().unwrap().attempts, 1);
        assert!(queue.failed(id, "still down", 2).await.unwrap());
        assert!(queue.oldest("a").await.unwrap().is_none(), "kept aside");
        assert_eq!(queue.dead_letters(), 1);
        assert!(!queue.failed(id, "again", 2).await.unwrap(), "counted once");
        let entries = queue.entries().await.unwrap();
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert!(entry.dead && entry.attempts == 2 && entry.body_len == 2);
        assert_eq!(entry.last_error.as_deref(), Some("still down"));
    }
}
