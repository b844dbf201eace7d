//! What can happen to the inspector: user intents from keys and the mouse, and results
//! that effects and the feed send back. `App::update` takes one at a time.

use std::sync::Arc;

use crate::export::Format;

use super::app::{HeaderInfo, Level, Row, TunnelState};
use super::view::ExchangeView;
use super::writer::WriterInfo;

/// One thing for `App::update` to handle.
#[derive(Clone, Debug)]
pub enum Action {
    /// Selection (or detail scroll) up one.
    Up,
    /// Down one.
    Down,
    /// Up a page.
    PageUp,
    /// Down a page.
    PageDown,
    /// To the newest (and follow again).
    Top,
    /// To the oldest.
    Bottom,
    /// Open the selection: focus the detail pane.
    Open,
    /// Back: close help or diff, leave the detail pane, clear marks.
    Back,
    /// Next detail tab.
    NextTab,
    /// Previous detail tab.
    PrevTab,
    /// Start typing a filter.
    StartFilter,
    /// A character typed into the filter.
    FilterChar(char),
    /// Backspace in the filter.
    FilterBackspace,
    /// Keep the filter and return to the list.
    FilterDone,
    /// Drop the filter and return to the list.
    FilterCancel,
    /// Replay the selection.
    Replay,
    /// Replay it re-signed.
    ReplayResigned,
    /// Edit it in `$EDITOR`, then replay.
    Edit,
    /// Diff a replay with its original, or two marked records.
    Diff,
    /// Mark (or unmark) the selection for a diff.
    Mark,
    /// Copy the selection as a curl command.
    CopyCurl,
    /// Ask for an export format.
    StartExport,
    /// Export the shown records in this format.
    ExportAs(Format),
    /// Toggle follow mode.
    ToggleFollow,
    /// Show or hide the key help.
    Help,
    /// Leave.
    Quit,
    /// The terminal is now this size.
    Resize(u16, u16),
    /// A click at (column, row).
    Click(u16, u16),
    /// The wheel at (column, row): up when true.
    Wheel(u16, u16, bool),
    /// Time passed: it is now this many µs since the epoch.
    Tick(i64),
    /// Requests still waiting for the app (rows with `in_flight`), any order.
    Started(Vec<Row>),
    /// Rows committed to the store (any order); each replaces its in-flight row.
    Committed(Vec<Row>),
    /// A page of older rows, newest first; `last` when the store has no more.
    Page {
        /// The rows.
        rows: Vec<Row>,
        /// Nothing older remains.
        last: bool,
    },
    /// How many records the store holds.
    Total(u64),
    /// The detail of a record, ready to show.
    Detail(Arc<ExchangeView>),
    /// Some of a text search's results.
    SearchHits {
        /// The search they belong to.
        generation: u64,
        /// Matching ids.
        ids: Vec<u64>,
        /// Records searched so far (all chunks).
        scanned: u64,
        /// The search has finished.
        done: bool,
    },
    /// The filter's words have stayed as they are since the search `generation` was
    /// asked for: time to start it.
    SearchDue(u64),
    /// A diff, ready to read.
    DiffReady(Vec<String>),
    /// A replay finished: its record (when stored) and what to say.
    Replayed(Option<Row>, Level, String),
    /// An effect's outcome for the status line.
    Status(Level, String),
    /// New header facts.
    Header(HeaderInfo),
    /// The tunnel changed.
    Tunnel(TunnelState),
    /// What a viewer knows of the process writing its store.
    Writer(WriterInfo),
}
