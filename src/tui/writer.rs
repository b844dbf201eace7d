//! What a viewer (`hooktap ui --store PATH`) knows of the process writing its store: who
//! else has the file open (SQLite's shared-memory lock), when another process last
//! committed, and when its last record was committed. Only what was observed is said.

use std::path::{Path, PathBuf};

use crate::output::human_duration_us;

/// A commit by another process at most this long ago makes the writer "active".
pub const ACTIVE_US: i64 = 60_000_000;

/// Whether another process has the store open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenBy {
    /// This process holds the store's shared-memory lock (the first one found).
    Pid(u32),
    /// No other process has the store open.
    Nobody,
    /// The lock could not be looked at (no `-shm` file to ask, or the system said no).
    Unknown,
}

/// What the viewer knows of the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterInfo {
    /// Another process with the store open.
    pub open_by: OpenBy,
    /// When a commit by another process was last seen (µs since the epoch): seen by the
    /// tail, or the `-wal` file's last change before this viewer opened the store.
    pub last_commit_us: Option<i64>,
    /// When the newest record by another process was committed (µs since the epoch):
    /// seen by the tail, or, for records older than this viewer, their received time
    /// plus their duration.
    pub last_record_us: Option<i64>,
}

impl WriterInfo {
    /// Nothing known yet.
    pub const UNKNOWN: WriterInfo = WriterInfo {
        open_by: OpenBy::Unknown,
        last_commit_us: None,
        last_record_us: None,
    };

    /// The header's words at `now_us`: `writer active (pid 42) · last record 3s ago`.
    pub fn describe(&self, now_us: i64) -> String {
        let recent = self
            .last_commit_us
            .is_some_and(|at| now_us.saturating_sub(at) <= ACTIVE_US);
        let writer = match (self.open_by, recent) {
            (OpenBy::Pid(pid), true) => format!("writer active (pid {pid})"),
            (OpenBy::Pid(pid), false) => format!("open in pid {pid}, no commit seen lately"),
            // Nobody has it open: whatever committed has gone.
            (OpenBy::Nobody, _) => "no writer open".to_string(),
            (OpenBy::Unknown, true) => "writer active".to_string(),
            (OpenBy::Unknown, false) => "no writer seen".to_string(),
        };
        let record = match self.last_record_us {
            Some(at) => format!("last record {} ago", ago(now_us.saturating_sub(at))),
            None => "no records yet".to_string(),
        };
        format!("{writer} · {record}")
    }
}

/// A span of time, coarsely: `3s`, `5m`, `2h`, `3d`.
pub fn ago(us: i64) -> String {
    let secs = us.max(0) / 1_000_000;
    match secs {
        0 => human_duration_us(us.max(0)),
        1..=59 => format!("{secs}s"),
        60..=3_599 => format!("{}m", secs / 60),
        3_600..=86_399 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut side = path.as_os_str().to_owned();
    side.push(suffix);
    PathBuf::from(side)
}

/// When the store's `-wal` file last changed, if it is there and not empty: a commit
/// since the last checkpoint. Look before opening the store, or the time is one's own.
pub fn wal_changed_us(path: &Path) -> Option<i64> {
    let meta = std::fs::metadata(side_file(path, "-wal")).ok()?;
    if meta.len() == 0 {
        return None;
    }
    Some(crate::exchange::unix_micros(meta.modified().ok()?))
}

/// Which other process has the store at `path` open. Every SQLite connection to a WAL
/// database holds a read lock on one byte of the `-shm` file (the "dead-man switch",
/// offset 128 in the unix VFS) for as long as it is open; Linux lists every such lock
/// in `/proc/locks` with its process. Elsewhere the answer is [`OpenBy::Unknown`].
pub fn open_by(path: &Path) -> OpenBy {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(shm) = std::fs::metadata(side_file(path, "-shm")) else {
        // No -shm file: no connection has the database open in WAL mode.
        return if path.exists() {
            OpenBy::Nobody
        } else {
            OpenBy::Unknown
        };
    };
    match std::fs::read_to_string("/proc/locks") {
        Ok(locks) => holder(&locks, shm.ino(), std::process::id()),
        Err(_) => OpenBy::Unknown,
    }
}

/// The first process other than `me` with a POSIX lock on the dead-man byte of the file
/// with inode `ino`, in the text of `/proc/locks`
/// (`1: POSIX  ADVISORY  READ 4242 08:01:1234 128 128`). The device is not compared:
/// overlay file systems list another one there than `stat` gives.
fn holder(locks: &str, ino: u64, me: u32) -> OpenBy {
    /// `UNIX_SHM_BASE + SQLITE_SHM_NLOCK` in SQLite's `os_unix.c`.
    const SHM_DMS: &str = "128";
    for line in locks.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A blocked request is listed as `1: -> POSIX …`: not a holder.
        let [_, "POSIX", _, _, pid, file, start, end] = fields[..] else {
            continue;
        };
        let same_file = file.rsplit(':').next().and_then(|i| i.parse().ok()) == Some(ino);
        if !same_file || start != SHM_DMS || end != SHM_DMS {
            continue;
        }
        match pid.parse::<u32>() {
            Ok(pid) if pid != me => return OpenBy::Pid(pid),
            _ => {}
        }
    }
    OpenBy::Nobody
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_122_933_204_000;

    fn info(open_by: OpenBy, commit_secs_ago: Option<i64>, record_secs_ago: Option<i64>) -> String {
        WriterInfo {
            open_by,
            last_commit_us: commit_secs_ago.map(|s| NOW - s * 1_000_000),
            last_record_us: record_secs_ago.map(|s| NOW - s * 1_000_000),
        }
        .describe(NOW)
    }

    #[test]
    fn the_header_says_only_what_was_seen() {
        assert_eq!(
            info(OpenBy::Pid(42), Some(3), Some(3)),
            "writer active (pid 42) · last record 3s ago"
        );
        assert_eq!(
            info(OpenBy::Pid(42), Some(300), Some(7_200)),
            "open in pid 42, no commit seen lately · last record 2h ago"
        );
        assert_eq!(
            info(OpenBy::Nobody, Some(3), Some(3)),
            "no writer open · last record 3s ago",
            "a writer that committed and left is not active"
        );
        assert_eq!(
            info(OpenBy::Unknown, Some(30), Some(30)),
            "writer active · last record 30s ago"
        );
        assert_eq!(
            info(OpenBy::Unknown, None, Some(7_300)),
            "no writer seen · last record 2h ago"
        );
        assert_eq!(
            info(OpenBy::Nobody, None, None),
            "no writer open · no records yet"
        );
        assert_eq!(ago(3 * 86_400 * 1_000_000), "3d");
    }

    #[test]
    fn the_lock_holders_are_read_from_proc_locks() {
        let locks = "1: POSIX  ADVISORY  READ 77 00:2e:99 128 128\n\
                     2: POSIX  ADVISORY  READ 4242 00:2e:1234 120 120\n\
                     3: -> POSIX  ADVISORY  WRITE 5 00:2e:1234 128 128\n\
                     4: POSIX  ADVISORY  READ 4242 08:01:1234 128 128\n";
        assert_eq!(holder(locks, 1234, 1), OpenBy::Pid(4242));
        assert_eq!(
            holder(locks, 1234, 4242),
            OpenBy::Nobody,
            "not this process"
        );
        assert_eq!(holder(locks, 5, 1), OpenBy::Nobody);
    }

    #[test]
    fn the_lock_probe_sees_no_other_process_in_this_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        assert_eq!(open_by(&path), OpenBy::Unknown, "no store");
        let store = crate::store::Store::open(crate::store::Options {
            location: crate::store::Location::File(path.clone()),
            retain: 10,
            retain_bytes: None,
            verdict: None,
        })
        .unwrap();
        // This process's own connections hold the lock, which F_GETLK does not report.
        assert_eq!(open_by(&path), OpenBy::Nobody);
        drop(store);
    }
}
