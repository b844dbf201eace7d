//! The queue's figures (depth, dead letters, each name's stored room) are kept in memory
//! and changed under the database connection's lock with every change this relay makes;
//! they are recounted from the database when another process changed it (`hooktap relay
//! release NAME` while the relay runs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

use super::Queue;

impl Queue {
    /// Recounts the depth, the dead letters and each name's stored room from the
    /// database when another process changed it: `hooktap relay release NAME` while the
    /// relay runs. SQLite's `data_version` changes only when another connection commits,
    /// so this is one pragma when nothing changed. Every change this relay makes updates
    /// the counts under the connection's lock, so the recount never races one.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let (depth, dead, accounts) =
            (self.depth.clone(), self.dead.clone(), self.accounts.clone());
        let seen = self.data_version.clone();
        self.blocking(move |c| {
            let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
            if seen.swap(version, Ordering::Relaxed) == version {
                return Ok(());
            }
            let (stored, total) = stored_per_name(c)?;
            accounts.set_all_stored(&stored);
            depth.store(total, Ordering::Relaxed);
            dead.store(count_dead(c)?, Ordering::Relaxed);
            Ok(())
        })
        .await
    }
}

/// Lowers `depth` by `removed`, never below zero.
pub(super) fn forget(depth: &AtomicU64, removed: u64) {
    let _ = depth.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
        Some(d.saturating_sub(removed))
    });
}

/// Requests and body bytes stored, per name.
pub(super) type StoredPerName = HashMap<String, (u64, u64)>;

/// Requests and body bytes stored per name, and requests over all names.
pub(super) fn stored_per_name(c: &Connection) -> rusqlite::Result<(StoredPerName, u64)> {
    let mut statement = c.prepare(
        "SELECT name, COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM queue GROUP BY name",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?.max(0) as u64,
            r.get::<_, i64>(2)?.max(0) as u64,
        ))
    })?;
    let (mut stored, mut total) = (HashMap::new(), 0);
    for row in rows {
        let (name, count, bytes) = row?;
        total += count;
        stored.insert(name, (count, bytes));
    }
    Ok((stored, total))
}

/// Dead letters in the queue.
pub(super) fn count_dead(c: &Connection) -> rusqlite::Result<u64> {
    let dead: i64 = c.query_row(
        "SELECT COUNT(*) FROM queue_attempts a JOIN queue q ON q.id = a.id WHERE a.dead = 1",
        [],
        |r| r.get(0),
    )?;
    Ok(dead.max(0) as u64)
}
