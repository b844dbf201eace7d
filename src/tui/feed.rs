//! Where the inspector's live data comes from: a [`Feed`] of started and committed
//! records and header facts. `hooktap ui` tails a store file another process writes
//! (and says what it sees of that writer); `listen` feeds the exchanges its store
//! commits and its tunnel's states (`cmd/listen_tui.rs`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use crate::exchange::Exchange;
use crate::store::Store;

use super::app::{HeaderInfo, TunnelState};
use super::row::Row;
pub use super::row::Started;
use super::writer::{self, WriterInfo};

/// How often the tail looks for commits by other processes.
const TAIL_EVERY: Duration = Duration::from_millis(150);

/// How far back (ms) the tail looks below the newest id it has seen: a request is
/// committed when its exchange ends, up to the app timeout (30 s by default) after the
/// time its id was made, so later commits can carry lower ids.
const TAIL_WINDOW_MS: u64 = 60_000;

/// Something the feed reports.
#[derive(Debug)]
pub enum FeedEvent {
    /// Requests that started and wait for the app; each turns into its record when
    /// `Committed` brings the same id.
    Started(Vec<Started>),
    /// Records committed.
    Committed(Vec<Row>),
    /// The tunnel changed.
    Tunnel(TunnelState),
    /// New header facts.
    Header(HeaderInfo),
    /// What a viewer sees of the store's writer changed.
    Writer(WriterInfo),
}

/// The inspector's live data: header facts to start with and a stream of events.
pub struct Feed {
    /// What the header shows at first.
    pub header: HeaderInfo,
    /// Committed records and state changes.
    pub events: mpsc::Receiver<FeedEvent>,
}

impl Feed {
    /// A feed from explicit parts (a caller with its own tunnel and records).
    pub fn new(header: HeaderInfo, events: mpsc::Receiver<FeedEvent>) -> Self {
        Self { header, events }
    }

    /// Tails the store file at `path`: a thread polls `PRAGMA data_version` on its own
    /// read-only connection and reports records committed by any process, and what it
    /// sees of the writer: commits by other processes (not those on `own`, this
    /// process's commits) and which other process has the file open. `wal_changed_us`
    /// is when the `-wal` file last changed before this process opened the store.
    pub fn tail(
        path: PathBuf,
        mut header: HeaderInfo,
        own: broadcast::Receiver<Arc<Exchange>>,
        wal_changed_us: Option<i64>,
    ) -> anyhow::Result<Self> {
        let reader = Store::open_read_only(&path)?;
        // What is there now is the initial page's to show (it is read after this).
        let mut tail = Tail::default();
        tail.look(&reader.browse())?;
        let newest = reader.browse().page(None, 1)?;
        let mut seen = Seen {
            own,
            own_ids: HashSet::new(),
            suspects: Vec::new(),
            info: WriterInfo {
                open_by: writer::open_by(&path),
                last_commit_us: wal_changed_us,
                last_record_us: newest
                    .first()
                    .map(|s| s.received_at_us + (s.duration_ms * 1000.0) as i64),
            },
        };
        header.writer = Some(seen.info);
        let (tx, events) = mpsc::channel(64);
        std::thread::Builder::new()
            .name("hooktap-tail".into())
            .spawn(move || {
                let browse = reader.browse();
                while !tx.is_closed() {
                    std::thread::sleep(TAIL_EVERY);
                    let before = seen.info;
                    let now = crate::exchange::unix_micros(std::time::SystemTime::now());
                    seen.info.open_by = writer::open_by(&path);
                    // A busy or briefly locked file: look again next time.
                    let rows = tail.look(&browse).unwrap_or_default();
                    seen.saw(&rows, now);
                    if seen.info != before
                        && tx.blocking_send(FeedEvent::Writer(seen.info)).is_err()
                    {
                        return;
                    }
                    if !rows.is_empty() && tx.blocking_send(FeedEvent::Committed(rows)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self { header, events })
    }
}

/// Whose commits the tail has seen.
struct Seen {
    /// This process's commits.
    own: broadcast::Receiver<Arc<Exchange>>,
    /// Ids committed by this process, not yet seen by the tail.
    own_ids: HashSet<u64>,
    /// Ids the last look found that were not known to be this process's, and when: this
    /// process announces a commit just after making it, so they are judged one look later.
    suspects: Vec<(u64, i64)>,
    /// What is known.
    info: WriterInfo,
}

impl Seen {
    /// Takes note of the `rows` a look at `now_us` found.
    fn saw(&mut self, rows: &[Row], now_us: i64) {
        loop {
            match self.own.try_recv() {
                Ok(ex) => {
                    self.own_ids.extend(ex.id.to_u64());
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        for (id, at) in std::mem::take(&mut self.suspects) {
            if !self.own_ids.remove(&id) {
                self.info.last_commit_us = Some(at);
                self.info.last_record_us = Some(at.max(self.info.last_record_us.unwrap_or(at)));
            }
        }
        for row in rows {
            if !self.own_ids.remove(&row.id) {
                self.suspects.push((row.id, now_us));
            }
        }
    }
}

/// What the tail has seen.
#[derive(Default)]
struct Tail {
    version: Option<i64>,
    newest: u64,
    known: HashSet<u64>,
}

impl Tail {
    /// The records committed since the last look (none on the first).
    fn look(&mut self, browse: &crate::store::Browse<'_>) -> anyhow::Result<Vec<Row>> {
        let version = Some(browse.data_version()?);
        if version == self.version {
            return Ok(Vec::new());
        }
        let first = self.version.is_none();
        self.version = version;
        if first {
            self.newest = browse.ids_below(u64::MAX, 1)?.first().copied().unwrap_or(0);
        }
        let floor = self.newest.saturating_sub(TAIL_WINDOW_MS << 18);
        self.known.retain(|id| *id >= floor);
        let new: Vec<u64> = browse
            .ids_from(floor)?
            .into_iter()
            .filter(|id| !self.known.contains(id))
            .collect();
        self.known.extend(new.iter().copied());
        self.newest = self.newest.max(new.iter().copied().max().unwrap_or(0));
        if first || new.is_empty() {
            return Ok(Vec::new());
        }
        Ok(browse
            .summaries(&new)?
            .into_iter()
            .map(Row::from_summary)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Location, Options};
    use crate::tui::fixtures::{exchange, id};

    #[tokio::test]
    async fn the_tail_reports_each_commit_once_also_one_with_an_older_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(Options {
            location: Location::File(path.clone()),
            retain: 100,
            retain_bytes: None,
            verdict: None,
        })
        .unwrap();
        store.record(exchange(10, "POST", "/first", Some(200)));
        store.flush().await.unwrap();
        let reader = Store::open_read_only(&path).unwrap();
        let mut tail = Tail::default();
        assert!(
            tail.look(&reader.browse()).unwrap().is_empty(),
            "the first look only learns"
        );
        assert!(
            tail.look(&reader.browse()).unwrap().is_empty(),
            "nothing new"
        );

        store.record(exchange(20, "POST", "/newer", Some(200)));
        // A slow request: made before /newer, committed after it.
        store.record(exchange(15, "POST", "/slow", Some(200)));
        store.flush().await.unwrap();
        let rows = tail.look(&reader.browse()).unwrap();
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/slow", "/newer"]);
        assert_eq!(rows[0].id, id(15).to_u64().unwrap());

        store.record(exchange(21, "POST", "/last", Some(200)));
        store.flush().await.unwrap();
        let rows = tail.look(&reader.browse()).unwrap();
        assert_eq!(rows.len(), 1, "known records are not reported again");
        assert_eq!(rows[0].path, "/last");
    }

    #[tokio::test]
    async fn the_writer_is_seen_in_other_processes_commits_not_in_this_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let open = || {
            Store::open(Options {
                location: Location::File(path.clone()),
                retain: 100,
                retain_bytes: None,
                verdict: None,
            })
            .unwrap()
        };
        // Another process's writer, and this one's (its replays).
        let (writer, own) = (open(), open());
        let reader = Store::open_read_only(&path).unwrap();
        let mut tail = Tail::default();
        tail.look(&reader.browse()).unwrap();
        let mut seen = Seen {
            own: own.subscribe(),
            own_ids: HashSet::new(),
            suspects: Vec::new(),
            info: WriterInfo::UNKNOWN,
        };

        own.record(exchange(1, "POST", "/replayed-here", Some(200)));
        own.flush().await.unwrap();
        let rows = tail.look(&reader.browse()).unwrap();
        assert_eq!(rows.len(), 1);
        seen.saw(&rows, 100);
        seen.saw(&[], 250);
        assert_eq!(seen.info, WriterInfo::UNKNOWN, "this process's own commit");

        writer.record(exchange(2, "POST", "/from-the-writer", Some(200)));
        writer.flush().await.unwrap();
        let rows = tail.look(&reader.browse()).unwrap();
        assert_eq!(rows.len(), 1);
        seen.saw(&rows, 400);
        assert_eq!(seen.info.last_commit_us, None, "judged a look later");
        seen.saw(&[], 550);
        assert_eq!(
            (seen.info.last_commit_us, seen.info.last_record_us),
            (Some(400), Some(400)),
            "seen when the look found it"
        );
    }
}
