//! `App::update`: one action in, state changed, effects out. No I/O here: effects are
//! run by the event loop and their results come back as actions.

use std::time::Duration;

use crate::export::Format;

use super::action::Action;
use super::app::{App, Focus, Level, Mode, Tab};
use super::layout::{Areas, inside};

/// Work for the event loop; each result comes back as an [`Action`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Load and prepare one record's detail.
    LoadDetail(u64),
    /// Load the page of rows older than `before`.
    LoadPage {
        /// The oldest id loaded so far.
        before: u64,
    },
    /// Send [`Action::SearchDue`] for `generation` after `after` (the typing's pause).
    SearchSoon {
        /// The search that would start.
        generation: u64,
        /// How long to wait.
        after: Duration,
    },
    /// Stop the text search that is running.
    CancelSearch,
    /// Search headers and bodies for `words`; only among `ids` when given.
    Search {
        /// The search's generation (stale results are dropped).
        generation: u64,
        /// Every word must appear.
        words: Vec<String>,
        /// Only these records (new arrivals), or all.
        ids: Option<Vec<u64>>,
    },
    /// Replay a record as recorded.
    Replay(u64),
    /// Replay it re-signed.
    ReplayResigned(u64),
    /// Edit it in `$EDITOR` (the terminal suspended), then replay.
    Edit(u64),
    /// Diff `b` against `a`.
    Diff(u64, u64),
    /// Copy as curl: OSC 52 and a file.
    CopyCurl(u64),
    /// Export these records (oldest first).
    Export(Format, Vec<u64>),
    /// Leave.
    Quit,
}

impl App {
    /// The screen's parts at the current size.
    pub fn areas(&self) -> Areas {
        Areas::new(self.size.0, self.size.1)
    }

    /// Handles one action.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Up => self.step(-1),
            Action::Down => self.step(1),
            Action::PageUp => self.step(-(self.page() as isize)),
            Action::PageDown => self.step(self.page() as isize),
            Action::Top if self.mode == Mode::Normal && self.focus == Focus::List => {
                self.follow = true;
                self.select_position(0)
            }
            Action::Top => self.step(isize::MIN / 2),
            Action::Bottom => self.step(isize::MAX / 2),
            Action::Open if self.selected.is_some() => {
                self.focus = Focus::Detail;
                Vec::new()
            }
            Action::Open => Vec::new(),
            Action::Back => self.back(),
            Action::NextTab | Action::PrevTab => {
                self.tab = self.tab.step(matches!(action, Action::NextTab));
                self.detail_scroll = 0;
                Vec::new()
            }
            Action::StartFilter => {
                self.mode = Mode::Filter;
                Vec::new()
            }
            Action::FilterChar(c) => {
                self.filter_text.push(c);
                self.filter_changed()
            }
            Action::FilterBackspace => {
                self.filter_text.pop();
                self.filter_changed()
            }
            Action::FilterDone => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            Action::FilterCancel => {
                self.mode = Mode::Normal;
                self.clear_filter()
            }
            Action::Replay => self.on_selected("replaying", super::update::Effect::Replay),
            Action::ReplayResigned if !self.can_resign => self.say(
                Level::Error,
                "re-signing needs the secret: pass --verify PROVIDER=SECRET or add it to hooktap.toml",
            ),
            Action::ReplayResigned => self.on_selected("re-signing and replaying", Effect::ReplayResigned),
            Action::Edit => self.on_selected("editing", Effect::Edit),
            Action::CopyCurl => self.on_selected("copying", Effect::CopyCurl),
            Action::Mark => self.mark(),
            Action::Diff => self.diff(),
            Action::StartExport if self.shown() == 0 => self.say(Level::Error, "nothing to export: no request is shown"),
            Action::StartExport => {
                self.mode = Mode::Export;
                let n = self.shown();
                self.say(Level::Info, &format!("export the {n} shown requests as: h HAR, c curl, f fixture (esc: cancel)"))
            }
            Action::ExportAs(format) => {
                self.mode = Mode::Normal;
                // In-flight rows have no record to export yet.
                let ids = (0..self.shown())
                    .rev()
                    .filter_map(|p| self.row_at(p).filter(|r| !r.in_flight).map(|r| r.id))
                    .collect();
                self.status = Some((Level::Info, "exporting…".into()));
                vec![Effect::Export(format, ids)]
            }
            Action::ToggleFollow => {
                self.follow = !self.follow;
                let word = if self.follow { "on" } else { "off" };
                let mut effects = self.say(Level::Info, &format!("follow {word}"));
                if self.follow {
                    self.focus = Focus::List;
                    effects.extend(self.select_position(0));
                }
                effects
            }
            Action::Help => {
                self.mode = if self.mode == Mode::Help { Mode::Normal } else { Mode::Help };
                Vec::new()
            }
            Action::Quit => vec![Effect::Quit],
            Action::Resize(cols, rows) => {
                self.size = (cols, rows);
                self.select_position(self.cursor)
            }
            Action::Click(x, y) => self.click(x, y),
            Action::Wheel(x, y, up) => {
                let areas = self.areas();
                let delta = if up { -3 } else { 3 };
                if inside(areas.detail, x, y) && self.mode == Mode::Normal {
                    self.focus = Focus::Detail;
                } else if inside(areas.list, x, y) {
                    self.focus = Focus::List;
                }
                self.step(delta)
            }
            Action::Tick(now_us) => self.tick(now_us),
            Action::Started(rows) => self.add_started(rows),
            Action::Committed(rows) => self.add_committed(rows),
            Action::Page { rows, last } => self.add_page(rows, last),
            Action::Total(n) => {
                self.counts.total = n.max(self.rows.len() as u64);
                Vec::new()
            }
            Action::Detail(view) => {
                if Some(view.id) == self.selected {
                    self.detail = Some(view);
                }
                Vec::new()
            }
            Action::SearchDue(generation) => self.search_due(generation),
            Action::SearchHits { generation, ids, scanned, done } => self.search_hits(generation, ids, scanned, done),
            Action::DiffReady(lines) => {
                self.diff = Some(lines);
                self.diff_scroll = 0;
                self.mode = Mode::Diff;
                self.status = None;
                Vec::new()
            }
            Action::Replayed(row, level, text) => {
                self.status = Some((level, text));
                row.map(|r| self.add_committed(vec![r])).unwrap_or_default()
            }
            Action::Status(level, text) => self.say(level, &text),
            Action::Header(header) => {
                self.header = header;
                Vec::new()
            }
            Action::Tunnel(state) => {
                self.header.tunnel = state;
                Vec::new()
            }
            Action::Writer(info) => {
                self.header.writer = Some(info);
                Vec::new()
            }
        }
    }

    fn say(&mut self, level: Level, text: &str) -> Vec<super::update::Effect> {
        self.status = Some((level, text.to_string()));
        Vec::new()
    }

    fn page(&self) -> usize {
        let areas = self.areas();
        match (self.mode, self.focus) {
            (Mode::Normal, Focus::List) => areas.list_rows(),
            _ => areas.detail_rows(),
        }
        .max(1)
    }

    /// Moves the selection, or scrolls the detail or the diff, by `delta`.
    fn step(&mut self, delta: isize) -> Vec<Effect> {
        let scroll =
            |at: usize, len: usize| at.saturating_add_signed(delta).min(len.saturating_sub(1));
        match (self.mode, self.focus) {
            (Mode::Diff, _) => {
                let len = self.diff.as_ref().map_or(0, Vec::len);
                self.diff_scroll = scroll(self.diff_scroll, len);
                Vec::new()
            }
            (Mode::Normal, Focus::Detail) => {
                let len = self.detail.as_ref().map_or(0, |d| d.tab(self.tab).len());
                self.detail_scroll = scroll(self.detail_scroll, len);
                Vec::new()
            }
            (Mode::Normal, Focus::List) => {
                let pos = self.cursor.saturating_add_signed(delta);
                // Moving away from the newest stops following; back at the top resumes it.
                self.follow = pos == 0;
                self.select_position(pos)
            }
            _ => Vec::new(),
        }
    }

    fn back(&mut self) -> Vec<Effect> {
        match self.mode {
            Mode::Help | Mode::Export | Mode::Filter => {
                self.mode = Mode::Normal;
                if self
                    .status
                    .as_ref()
                    .is_some_and(|(_, s)| s.starts_with("export the"))
                {
                    self.status = None;
                }
                Vec::new()
            }
            Mode::Diff => {
                self.mode = Mode::Normal;
                self.diff = None;
                Vec::new()
            }
            Mode::Normal if self.focus == Focus::Detail => {
                self.focus = Focus::List;
                Vec::new()
            }
            Mode::Normal if !self.marks.is_empty() => {
                self.marks.clear();
                self.say(Level::Info, "marks cleared")
            }
            Mode::Normal => self.clear_filter(),
        }
    }

    fn on_selected(&mut self, verb: &str, effect: fn(u64) -> Effect) -> Vec<Effect> {
        match self.selected_row() {
            Some(row) if row.in_flight => self.say(
                Level::Error,
                "still in flight: its record is not committed yet",
            ),
            Some(row) => {
                let (id, text) = (row.id, row.id_text());
                self.status = Some((Level::Info, format!("{verb} {text}…")));
                vec![effect(id)]
            }
            None => self.say(Level::Error, "no request selected"),
        }
    }

    fn mark(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected else {
            return self.say(Level::Error, "no request selected");
        };
        if let Some(i) = self.marks.iter().position(|m| *m == id) {
            self.marks.remove(i);
        } else {
            self.marks.push(id);
            if self.marks.len() > 2 {
                self.marks.remove(0);
            }
        }
        let n = self.marks.len();
        let text = if n == 2 {
            "2 marked: d compares them".to_string()
        } else {
            format!("{n} marked")
        };
        self.say(Level::Info, &text)
    }

    fn diff(&mut self) -> Vec<Effect> {
        if let [a, b] = self.marks[..] {
            let (a, b) = (a.min(b), a.max(b));
            self.status = Some((Level::Info, "comparing…".into()));
            return vec![Effect::Diff(a, b)];
        }
        let original = self.selected_row().and_then(|r| {
            Some((
                r.id,
                crate::exchange::ExchangeId(r.replay_of.clone()?).to_u64()?,
            ))
        });
        match original {
            Some((replay, original)) => {
                self.status = Some((Level::Info, "comparing…".into()));
                vec![Effect::Diff(original, replay)]
            }
            None => self.say(
                Level::Error,
                "d compares a replay with its original: select a replay, or mark two requests with space",
            ),
        }
    }

    fn click(&mut self, x: u16, y: u16) -> Vec<Effect> {
        if self.mode != Mode::Normal {
            return Vec::new();
        }
        let areas = self.areas();
        if inside(areas.list, x, y) {
            self.focus = Focus::List;
            let pos = self.offset + usize::from(y - areas.list.y - 1);
            if pos < self.shown() {
                self.follow = pos == 0;
                return self.select_position(pos);
            }
        } else if inside(areas.detail, x, y) || (y == areas.detail.y && x > areas.detail.x) {
            self.focus = Focus::Detail;
            if y == areas.detail.y {
                // The tab titles on the border: `─ Request │ Response │ …`.
                let mut at = areas.detail.x + 1;
                for tab in Tab::ALL {
                    let width = tab.title().len() as u16 + 3;
                    if x >= at && x < at + width {
                        self.tab = tab;
                        self.detail_scroll = 0;
                    }
                    at += width;
                }
            }
        }
        Vec::new()
    }
}
