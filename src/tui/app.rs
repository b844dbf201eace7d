//! The inspector's state as plain data: the rows (summaries, no bodies), what is shown,
//! what is selected, the mode, the status line and the header facts given by the caller.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::exchange::{Exchange, Source, delivery_id};
use crate::signature::Verdict;
use crate::store::Summary;

use super::filter::Filter;
use super::view::ExchangeView;

/// A signature verdict, as small as the list needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigKind {
    /// Valid.
    Valid,
    /// Invalid.
    Invalid,
    /// MAC right, timestamp outside the tolerance.
    Expired,
    /// The signature header is missing.
    Missing,
    /// No secret configured for the provider.
    NoSecret,
}

/// The list's signature badge: the verdict and the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sig {
    /// The verdict.
    pub kind: SigKind,
    /// The provider, e.g. `stripe`.
    pub provider: String,
}

impl Sig {
    fn of(verdict: &Verdict) -> Self {
        let kind = match verdict {
            Verdict::Valid { .. } => SigKind::Valid,
            Verdict::Invalid { .. } => SigKind::Invalid,
            Verdict::Expired { .. } => SigKind::Expired,
            Verdict::MissingHeader { .. } => SigKind::Missing,
            Verdict::NoSecret { .. } => SigKind::NoSecret,
        };
        Self {
            kind,
            provider: verdict.provider().to_string(),
        }
    }
}

/// One line of the list: a record without its bodies.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The id's number (ids sort by time).
    pub id: u64,
    /// Received, µs since the epoch.
    pub received_at_us: i64,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status, if the app answered.
    pub status: Option<u16>,
    /// Total duration in µs.
    pub duration_us: i64,
    /// Request body size.
    pub size: u64,
    /// Signature verdict.
    pub sig: Option<Sig>,
    /// Where it came from.
    pub source: Source,
    /// The original, for a replay.
    pub replay_of: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The request body was stored cut.
    pub cut: bool,
    /// The provider's delivery id.
    pub delivery_id: Option<String>,
    /// An earlier record carries the same delivery id.
    pub redelivery: bool,
}

impl Row {
    /// The row for a summary read from the store.
    pub fn from_summary(s: Summary) -> Self {
        let id = crate::exchange::ExchangeId(s.id).to_u64().unwrap_or(0);
        Self {
            id,
            received_at_us: s.received_at_us,
            method: s.method,
            path: s.path,
            status: s.status,
            duration_us: (s.duration_ms * 1000.0).round() as i64,
            size: s.request_size,
            sig: s.verdict.as_ref().map(Sig::of),
            source: s.source,
            replay_of: s.replay_of,
            error: s.error,
            cut: s.cut,
            delivery_id: s.delivery_id,
            redelivery: false,
        }
    }

    /// The row for a committed exchange.
    pub fn from_exchange(ex: &Exchange) -> Self {
        let body = &ex.request.body;
        Self {
            id: ex.id.to_u64().unwrap_or(0),
            received_at_us: ex.received_at_us,
            method: ex.request.method.clone(),
            path: ex.request.uri.clone(),
            status: ex.status(),
            duration_us: ex.duration_us,
            size: body.size,
            sig: ex.verdict.as_ref().map(Sig::of),
            source: ex.source,
            replay_of: ex.replay_of.as_ref().map(|id| id.0.clone()),
            error: ex.error.clone(),
            cut: body.truncated(),
            delivery_id: delivery_id(
                &ex.request.headers,
                &body.bytes[..body.bytes.len().min(512)],
            ),
            redelivery: false,
        }
    }

    /// The text id.
    pub fn id_text(&self) -> String {
        crate::exchange::ExchangeId::from_u64(self.id).0
    }

    /// No response, or not 2xx.
    pub fn failed(&self) -> bool {
        !matches!(self.status, Some(200..=299))
    }
}

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

/// The detail pane's tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Request line, headers, body.
    Request,
    /// Status, headers, body.
    Response,
    /// The verdict explained.
    Signature,
    /// The exact bytes.
    Raw,
    /// Times, source, target.
    Timing,
}

impl Tab {
    /// Every tab in order.
    pub const ALL: [Tab; 5] = [
        Tab::Request,
        Tab::Response,
        Tab::Signature,
        Tab::Raw,
        Tab::Timing,
    ];

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Request => "Request",
            Tab::Response => "Response",
            Tab::Signature => "Signature",
            Tab::Raw => "Raw",
            Tab::Timing => "Timing",
        }
    }

    /// The next (or previous) tab, wrapping.
    pub fn step(self, forward: bool) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        let n = Tab::ALL.len();
        Tab::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
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
    /// Whether the current text search is still running.
    pub searching: bool,
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
