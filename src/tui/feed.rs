//! Where the inspector's live data comes from: a [`Feed`] of committed records and
//! header facts. `hooktap ui` tails a store file another process writes; `listen`
//! feeds the exchanges its store commits and its tunnel's states (`cmd/listen_tui.rs`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::Store;

use super::app::{HeaderInfo, Row, TunnelState};

/// How often the tail looks for commits by other processes.
const TAIL_EVERY: Duration = Duration::from_millis(150);

/// How far back (ms) the tail looks below the newest id it has seen: a request is
/// committed when its exchange ends, up to the app timeout (30 s by default) after the
/// time its id was made, so later commits can carry lower ids.
const TAIL_WINDOW_MS: u64 = 60_000;

/// Something the feed reports.
#[derive(Debug)]
pub enum FeedEvent {
    /// Records committed.
    Committed(Vec<Row>),
    /// The tunnel changed.
    Tunnel(TunnelState),
    /// New header facts.
    Header(HeaderInfo),
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
    /// read-only connection and reports records committed by any process.
    pub fn tail(path: PathBuf, header: HeaderInfo) -> anyhow::Result<Self> {
        let reader = Store::open_read_only(&path)?;
        // What is there now is the initial page's to show (it is read after this).
        let mut tail = Tail::default();
        tail.look(&reader.browse())?;
        let (tx, events) = mpsc::channel(64);
        std::thread::Builder::new()
            .name("hooktap-tail".into())
            .spawn(move || {
                let browse = reader.browse();
                while !tx.is_closed() {
                    std::thread::sleep(TAIL_EVERY);
                    match tail.look(&browse) {
                        Ok(rows) if rows.is_empty() => {}
                        Ok(rows) => {
                            if tx.blocking_send(FeedEvent::Committed(rows)).is_err() {
                                return;
                            }
                        }
                        // A busy or briefly locked file: look again next time.
                        Err(_) => {}
                    }
                }
            })?;
        Ok(Self { header, events })
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
}
