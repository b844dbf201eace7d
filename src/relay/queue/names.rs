//! Who owns each tunnel name, kept next to the queue so it survives restarts. A name
//! belongs to the first token (or anonymous agent) that held it, live or not, until an
//! operator releases it (`hooktap relay release NAME`). Only fingerprints (SHA-256 of the
//! token or of the anonymous resume key) are stored, never a token.

use rusqlite::{Connection, OptionalExtension, params};

use super::Queue;
use crate::relay::auth::{Fingerprint, same};

/// One name the relay handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameEntry {
    /// The tunnel name.
    pub name: String,
    /// Its owner's fingerprint.
    pub owner: Fingerprint,
    /// True when an anonymous agent holds it (its owner is a resume key, not a token).
    pub anonymous: bool,
    /// Requests queued for it.
    pub queued: u64,
}

impl NameEntry {
    /// The owner as operators see it: `token 3f9a1c2b7d4e` (the first 12 hex digits of the
    /// token's SHA-256), or `anonymous`.
    pub fn owner_label(&self) -> String {
        if self.anonymous {
            "anonymous".into()
        } else {
            format!("token {}", &hex::encode(self.owner)[..12])
        }
    }
}

/// The answer to a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The name is the claimant's (it was free, or already theirs).
    Granted,
    /// Someone else owns it.
    Taken {
        /// The owner is an anonymous agent.
        anonymous: bool,
    },
}

/// Adds the `anonymous` and `last_used_us` columns to a names table made by an older
/// relay; names it handed out count as used now.
pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    let has_column = |column: &str| {
        c.prepare("SELECT 1 FROM pragma_table_info('names') WHERE name = ?1")?
            .exists([column])
    };
    if !has_column("anonymous")? {
        c.execute_batch("ALTER TABLE names ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0")?;
    }
    if !has_column("last_used_us")? {
        c.execute_batch("ALTER TABLE names ADD COLUMN last_used_us INTEGER NOT NULL DEFAULT 0")?;
        c.execute("UPDATE names SET last_used_us = ?1", [now_us()])?;
    }
    Ok(())
}

fn now_us() -> i64 {
    crate::exchange::unix_micros(std::time::SystemTime::now())
}

fn owner_of(blob: Vec<u8>) -> Option<Fingerprint> {
    blob.try_into().ok()
}

impl Queue {
    /// Who holds `name`, if the relay ever handed it out.
    pub async fn owner(&self, name: &str) -> anyhow::Result<Option<Fingerprint>> {
        let name = name.to_string();
        let blob: Option<Vec<u8>> = self
            .blocking(move |c| {
                c.query_row("SELECT owner FROM names WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
            })
            .await?;
        Ok(blob.and_then(owner_of))
    }

    /// Gives `name` to `owner` unless someone else owns it. With `overrule` (the tokens
    /// file reserves the name for `owner`), a previous owner loses it, unless requests are
    /// still queued for them. Atomic: of two claimants of a free name, one wins.
    pub async fn claim(
        &self,
        name: &str,
        owner: Fingerprint,
        anonymous: bool,
        overrule: bool,
    ) -> anyhow::Result<Claim> {
        let name = name.to_string();
        self.blocking(move |c| {
            let tx = c.transaction()?;
            let stored: Option<(Vec<u8>, bool)> = tx
                .query_row(
                    "SELECT owner, anonymous FROM names WHERE name = ?1",
                    [&name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((blob, stored_anonymous)) = stored {
                let mine = owner_of(blob).is_some_and(|stored| same(&stored, &owner));
                if mine {
                    tx.execute(
                        "UPDATE names SET last_used_us = ?2 WHERE name = ?1",
                        params![name, now_us()],
                    )?;
                    tx.commit()?;
                    return Ok(Claim::Granted);
                }
                let queued: i64 =
                    tx.query_row("SELECT COUNT(*) FROM queue WHERE name = ?1", [&name], |r| {
                        r.get(0)
                    })?;
                if !overrule || queued > 0 {
                    return Ok(Claim::Taken {
                        anonymous: stored_anonymous,
                    });
                }
            }
            tx.execute(
                "INSERT INTO names (name, owner, anonymous, last_used_us) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE
                 SET owner = excluded.owner, anonymous = excluded.anonymous,
                     last_used_us = excluded.last_used_us",
                params![name, owner.to_vec(), anonymous, now_us()],
            )?;
            tx.commit()?;
            Ok(Claim::Granted)
        })
        .await
    }

    /// Marks `name` as used now (its agent just left).
    pub async fn touch(&self, name: &str) -> anyhow::Result<()> {
        let name = name.to_string();
        self.blocking(move |c| {
            c.execute(
                "UPDATE names SET last_used_us = ?2 WHERE name = ?1",
                params![name, now_us()],
            )
        })
        .await?;
        Ok(())
    }

    /// Releases every anonymous name no agent has held for `ttl`, except those `live`
    /// says are held now; returns the names released.
    pub async fn expire_anonymous(
        &self,
        ttl: std::time::Duration,
        live: impl Fn(&str) -> bool,
    ) -> anyhow::Result<Vec<String>> {
        let cutoff = now_us().saturating_sub(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX));
        let stale: Vec<String> = self
            .blocking(move |c| {
                let mut statement = c.prepare(
                    "SELECT name FROM names WHERE anonymous = 1 AND last_used_us < ?1 LIMIT 1000",
                )?;
                let rows = statement.query_map([cutoff], |r| r.get(0))?;
                rows.collect()
            })
            .await?;
        let mut released = Vec::new();
        for name in stale.into_iter().filter(|name| !live(name)) {
            if self.release(&name).await?.is_some() {
                released.push(name);
            }
        }
        Ok(released)
    }

    /// Every name handed out, by name.
    pub async fn names(&self) -> anyhow::Result<Vec<NameEntry>> {
        self.blocking(|c| {
            let mut statement = c.prepare(
                "SELECT n.name, n.owner, n.anonymous,
                        (SELECT COUNT(*) FROM queue q WHERE q.name = n.name)
                 FROM names n ORDER BY n.name",
            )?;
            let rows = statement.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut entries = Vec::new();
            for row in rows {
                let (name, blob, anonymous, queued) = row?;
                entries.push(NameEntry {
                    name,
                    owner: owner_of(blob).unwrap_or_default(),
                    anonymous,
                    queued: queued.max(0) as u64,
                });
            }
            Ok(entries)
        })
        .await
    }

    /// Frees `name` and drops the requests queued for it (they belong to the owner that
    /// loses it); `None` when the relay never handed it out.
    pub async fn release(&self, name: &str) -> anyhow::Result<Option<NameEntry>> {
        let name = name.to_string();
        let (accounts, dead_letters) = (self.accounts.clone(), self.dead.clone());
        let depth = self.depth.clone();
        let released = self
            .blocking(move |c| {
                let tx = c.transaction()?;
                let stored: Option<(Vec<u8>, bool)> = tx
                    .query_row(
                        "SELECT owner, anonymous FROM names WHERE name = ?1",
                        [&name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((blob, anonymous)) = stored else {
                    return Ok(None);
                };
                let dead: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM queue q JOIN queue_attempts a ON a.id = q.id
                     WHERE q.name = ?1 AND a.dead = 1",
                    [&name],
                    |r| r.get(0),
                )?;
                tx.execute(
                    "DELETE FROM queue_attempts WHERE id IN (SELECT id FROM queue WHERE name = ?1)",
                    [&name],
                )?;
                let queued = tx.execute("DELETE FROM queue WHERE name = ?1", [&name])?;
                tx.execute("DELETE FROM names WHERE name = ?1", [&name])?;
                tx.commit()?;
                accounts.set_stored(&name, 0, 0);
                super::counts::forget(&depth, queued as u64);
                dead_letters.fetch_sub(
                    (dead.max(0) as u64)
                        .min(dead_letters.load(std::sync::atomic::Ordering::Relaxed)),
                    std::sync::atomic::Ordering::Relaxed,
                );
                Ok(Some(NameEntry {
                    name,
                    owner: owner_of(blob).unwrap_or_default(),
                    anonymous,
                    queued: queued as u64,
                }))
            })
            .await?;
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_stays_with_its_first_owner_until_released_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let queue = Queue::open(Some(dir.path())).unwrap();
            assert_eq!(
                queue.claim("a", [1; 32], false, false).await.unwrap(),
                Claim::Granted
            );
            assert_eq!(
                queue.claim("b", [3; 32], true, false).await.unwrap(),
                Claim::Granted
            );
        }
        let queue = Queue::open(Some(dir.path())).unwrap();
        assert_eq!(
            queue.claim("a", [2; 32], false, false).await.unwrap(),
            Claim::Taken { anonymous: false }
        );
        assert_eq!(
            queue.claim("b", [2; 32], false, false).await.unwrap(),
            Claim::Taken { anonymous: true }
        );
        assert_eq!(
            queue.claim("a", [1; 32], false, false).await.unwrap(),
            Claim::Granted
        );
        let names = queue.names().await.unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(names[0].owner_label(), format!("token {}", "01".repeat(6)));
        assert_eq!(names[1].owner_label(), "anonymous");
        let released = queue.release("a").await.unwrap().unwrap();
        assert_eq!(released.owner, [1; 32]);
        assert!(queue.release("a").await.unwrap().is_none());
        assert_eq!(
            queue.claim("a", [2; 32], false, false).await.unwrap(),
            Claim::Granted
        );
        // The tokens file reserving a name overrules an earlier owner.
        assert_eq!(
            queue.claim("a", [4; 32], false, true).await.unwrap(),
            Claim::Granted
        );
    }
}
