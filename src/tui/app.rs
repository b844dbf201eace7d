//! The inspector's state as plain data: the rows (summaries, no bodies), what is shown,
//! what is selected, the mode, the status line and the header facts given by the caller.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::filter::Filter;
pub use super::row::{Row, Sig, SigKind};
use super::view::ExchangeView;
pub use super::view::Tab;
use super::writer::WriterInfo;

/// What keys do right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Moving through the list or the detail.
    Normal,
    /// Typing a filter.
    Filter,
    /// The key help.
    Help,
    /// Choosing an export format.
    Export,
    /// Reading a diff.
    Diff,
}

/// Where the movement keys go in [`Mode::Normal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The list.
    List,
    /// The detail pane (scrolls).
    Detail,
}

/// The tunnel's state as the caller reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelState {
    /// No tunnel: local capture only.
    Local,
    /// Viewing a store another process writes.
    Viewer,
    /// Dialling the relay.
    Connecting,
    /// Online.
    Online,
    /// Lost; trying again in this many seconds.
    Reconnecting {
        /// Seconds to the next try.
        in_secs: u64,
        /// Why it went down.
        reason: String,
    },
    /// Given up, with the reason.
    Offline(String),
}

/// Facts for the header, from whoever runs the inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// What is being inspected: `listen`, or `viewer of PATH`.
    pub title: String,
    /// Public URLs, best first.
    pub public_urls: Vec<String>,
    /// Where requests are forwarded.
    pub target: Option<String>,
    /// The tunnel.
    pub tunnel: TunnelState,
    /// Deliveries received from the relay's queue after a reconnect.
    pub queued_delivered: u64,
    /// Records the store dropped.
    pub dropped: u64,
    /// A standing hint from the caller (the demo's "what to try next"), shown on the
    /// status line whenever no status is.
    pub notice: Option<String>,
    /// What a viewer knows of the store's writer (`None` when this process writes it).
    pub writer: Option<WriterInfo>,
}

/// How the status line is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Plain.
    Info,
    /// Something worked.
    Done,
    /// Something failed.
    Error,
}

/// Counts for the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records in the store (or seen).
    pub total: u64,
    /// Failed ones among those loaded.
    pub failed: u64,
    /// Invalid signatures among those loaded.
    pub invalid: u64,
}

/// The whole state.
pub struct App {
    /// Rows, ascending by id (oldest first); the list shows them newest first.
    pub rows: VecDeque<Row>,
    /// Indexes into `rows` (ascending) that pass the filter; `None` when unfiltered.
    pub visible: Option<Vec<usize>>,
    /// The selected record's id.
    pub selected: Option<u64>,
    /// The selection's position in the list (0 is the newest).
    pub cursor: usize,
    /// The list's first shown position.
    pub offset: usize,
    /// The newest stays selected as records arrive.
    pub follow: bool,
    /// Keys' mode.
    pub mode: Mode,
    /// Where movement goes.
    pub focus: Focus,
    /// The detail's tab.
    pub tab: Tab,
    /// The detail pane's first line.
    pub detail_scroll: usize,
    /// The loaded detail and its id.
    pub detail: Option<Arc<ExchangeView>>,
    /// The filter as typed.
    pub filter_text: String,
    /// The filter last parsed without error.
    pub filter: Filter,
    /// Why the filter text does not parse.
    pub filter_error: Option<String>,
    /// The current text search (bumped on each new one).
    pub search_gen: u64,
    /// Ids the current text search found.
    pub hits: HashSet<u64>,
    /// Whether the current text search has not finished (waiting or running).
    pub searching: bool,
    /// Whether the current text search has been started (the typing paused).
    pub search_running: bool,
    /// Records the current text search has looked at.
    pub search_scanned: u64,
    /// Records marked for a diff.
    pub marks: Vec<u64>,
    /// The diff being read.
    pub diff: Option<Vec<String>>,
    /// The diff's first line.
    pub diff_scroll: usize,
    /// The status line.
    pub status: Option<(Level, String)>,
    /// Header facts.
    pub header: HeaderInfo,
    /// Counts.
    pub counts: Counts,
    /// Older pages are still loading from the store.
    pub loading_older: bool,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Colours on (`NO_COLOR` unset).
    pub color: bool,
    /// The first record of each delivery id.
    pub deliveries: HashMap<String, u64>,
    /// Re-signing is possible (secrets configured).
    pub can_resign: bool,
    /// The time of the last tick, µs since the epoch (elapsed times and ages).
    pub now_us: i64,
    /// The ids of in-flight rows (requests still waiting for the app).
    pub in_flight: BTreeSet<u64>,
}

impl App {
    /// A new inspector for `header`, with a terminal of `size`.
    pub fn new(header: HeaderInfo, size: (u16, u16)) -> Self {
        Self {
            rows: VecDeque::new(),
            visible: None,
            selected: None,
            cursor: 0,
            offset: 0,
            follow: true,
            mode: Mode::Normal,
            focus: Focus::List,
            tab: Tab::Request,
            detail_scroll: 0,
            detail: None,
            filter_text: String::new(),
            filter: Filter::default(),
            filter_error: None,
            search_gen: 0,
            hits: HashSet::new(),
            searching: false,
            search_running: false,
            search_scanned: 0,
            marks: Vec::new(),
            diff: None,
            diff_scroll: 0,
            status: None,
            header,
            counts: Counts::default(),
            loading_older: false,
            size,
            color: true,
            deliveries: HashMap::new(),
            can_resign: false,
            now_us: 0,
            in_flight: BTreeSet::new(),
        }
    }

    /// How many rows the list shows.
    pub fn shown(&self) -> usize {
        self.visible.as_ref().map_or(self.rows.len(), Vec::len)
    }

    /// The row at list position `pos` (0 is the newest).
    pub fn row_at(&self, pos: usize) -> Option<&Row> {
        let n = self.shown();
        let k = n.checked_sub(pos + 1)?;
        let index = match &self.visible {
            Some(v) => *v.get(k)?,
            None => k,
        };
        self.rows.get(index)
    }

    /// The selected row.
    pub fn selected_row(&self) -> Option<&Row> {
        self.row_at(self.cursor)
            .filter(|r| Some(r.id) == self.selected)
    }

    /// The index in `rows` of the record `id`.
    pub fn index_of(&self, id: u64) -> Option<usize> {
        self.rows.binary_search_by_key(&id, |r| r.id).ok()
    }

    /// The list position of the record `id`, if shown.
    pub fn position_of(&self, id: u64) -> Option<usize> {
        let index = self.index_of(id)?;
        let k = match &self.visible {
            Some(v) => v.binary_search(&index).ok()?,
            None => index,
        };
        Some(self.shown() - 1 - k)
    }

    /// Whether `row` passes the filter.
    pub fn passes(&self, row: &Row) -> bool {
        self.filter.matches(row, Some(self.hits.contains(&row.id)))
    }
}
