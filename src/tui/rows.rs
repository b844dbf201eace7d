//! Keeping the list: rows arriving (in flight, committed, or as older pages),
//! redelivery marks, counts, the filtered view and a selection that stays on its
//! record. Pure state changes.

use super::app::{App, Row, SigKind};
use super::update::Effect;

/// An in-flight row whose record has not come this long after it started is dropped
/// (its record was dropped by a stalled disk, or its commit was missed): longer than
/// any app timeout a capture waits for.
pub const IN_FLIGHT_TIMEOUT_US: i64 = 120_000_000;

impl App {
    /// Adds rows committed to the store (any order, possibly already known); each
    /// replaces the in-flight row of the same id.
    pub(super) fn add_committed(&mut self, rows: Vec<Row>) -> Vec<Effect> {
        let mut appended_only = true;
        let mut new_ids = Vec::new();
        let mut landed_selected = false;
        let start = self.rows.len();
        for row in rows {
            if let Some(i) = self.index_of(row.id) {
                if self.rows[i].in_flight {
                    // Counted and marked as a new record below.
                    self.rows.remove(i);
                    self.in_flight.remove(&row.id);
                    appended_only = false;
                    landed_selected |= self.selected == Some(row.id);
                } else {
                    let redelivery = self.rows[i].redelivery;
                    self.rows[i] = Row { redelivery, ..row };
                    continue;
                }
            }
            self.counts.total += 1;
            new_ids.push(row.id);
            let id = row.id;
            if self.rows.back().is_none_or(|last| last.id < id) {
                self.insert_row(self.rows.len(), row);
            } else {
                appended_only = false;
                let at = self.rows.partition_point(|r| r.id < id);
                self.insert_row(at, row);
            }
        }
        if appended_only {
            if let Some(visible) = &mut self.visible {
                for i in start..self.rows.len() {
                    if self
                        .filter
                        .matches(&self.rows[i], Some(self.hits.contains(&self.rows[i].id)))
                    {
                        visible.push(i);
                    }
                }
            }
        } else {
            self.recompute_visible();
        }
        let mut effects = self.relocate();
        if landed_selected && self.selected_row().is_some_and(|r| !r.in_flight) {
            // The selection was in flight: its detail can be read now.
            self.detail = None;
            effects.extend(self.selected.map(Effect::LoadDetail));
        }
        effects.extend(self.search_new(new_ids));
        effects
    }

    /// Adds rows of requests still waiting for the app (any order); one whose record
    /// is already here is old news.
    pub(super) fn add_started(&mut self, rows: Vec<Row>) -> Vec<Effect> {
        for row in rows {
            if self.index_of(row.id).is_some() {
                continue;
            }
            self.in_flight.insert(row.id);
            let at = self.rows.partition_point(|r| r.id < row.id);
            self.rows.insert(at, row);
        }
        self.recompute_visible();
        self.relocate()
    }

    /// Time passed: in-flight rows past [`IN_FLIGHT_TIMEOUT_US`] go.
    pub(super) fn tick(&mut self, now_us: i64) -> Vec<Effect> {
        self.now_us = now_us;
        let stale: Vec<u64> = self
            .in_flight
            .iter()
            .copied()
            .filter(|id| {
                self.index_of(*id).is_none_or(|i| {
                    now_us.saturating_sub(self.rows[i].received_at_us) > IN_FLIGHT_TIMEOUT_US
                })
            })
            .collect();
        if stale.is_empty() {
            return Vec::new();
        }
        for id in stale {
            self.in_flight.remove(&id);
            if let Some(i) = self.index_of(id) {
                self.rows.remove(i);
            }
        }
        self.recompute_visible();
        self.relocate()
    }

    /// Adds a page of older rows (newest first); asks for the next unless `last`.
    pub(super) fn add_page(&mut self, rows: Vec<Row>, last: bool) -> Vec<Effect> {
        for row in rows {
            if self.rows.front().is_some_and(|first| first.id <= row.id) {
                // Committed meanwhile and already listed (or out of order): place it.
                if self.index_of(row.id).is_none() {
                    let at = self.rows.partition_point(|r| r.id < row.id);
                    self.insert_row(at, row);
                }
                continue;
            }
            self.insert_row(0, row);
        }
        self.counts.total = self.counts.total.max(self.rows.len() as u64);
        self.loading_older = !last;
        self.recompute_visible();
        let mut effects = self.relocate();
        if !last && let Some(first) = self.rows.front() {
            effects.push(Effect::LoadPage { before: first.id });
        }
        effects
    }

    /// Inserts `row` at `at`, keeping counts and redelivery marks.
    fn insert_row(&mut self, at: usize, mut row: Row) {
        if row.in_flight {
            self.in_flight.insert(row.id);
            self.rows.insert(at, row);
            return;
        }
        if row.failed() {
            self.counts.failed += 1;
        }
        if row.sig.as_ref().is_some_and(|s| s.kind == SigKind::Invalid) {
            self.counts.invalid += 1;
        }
        let key = row
            .delivery_id
            .clone()
            .filter(|_| row.source != crate::exchange::Source::Replay);
        let mut mark_later = None;
        if let Some(key) = key {
            match self.deliveries.get(&key).copied() {
                Some(first) if first < row.id => row.redelivery = true,
                Some(first) => {
                    mark_later = Some(first);
                    self.deliveries.insert(key, row.id);
                }
                None => {
                    self.deliveries.insert(key, row.id);
                }
            }
        }
        self.rows.insert(at, row);
        if let Some(i) = mark_later.and_then(|id| self.index_of(id)) {
            self.rows[i].redelivery = true;
        }
    }

    /// Recomputes which rows pass the filter.
    pub(super) fn recompute_visible(&mut self) {
        self.visible = if self.filter.is_empty() {
            None
        } else {
            Some(
                self.rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| self.passes(r))
                    .map(|(i, _)| i)
                    .collect(),
            )
        };
    }

    /// Puts the cursor back on the selected record (or the newest when following), and
    /// asks for the detail if the selection changed.
    pub(super) fn relocate(&mut self) -> Vec<Effect> {
        let pos = if self.follow {
            0
        } else {
            match self.selected.and_then(|id| self.position_of(id)) {
                Some(pos) => pos,
                None => self.cursor.min(self.shown().saturating_sub(1)),
            }
        };
        self.select_position(pos)
    }

    /// Selects list position `pos` (clamped) and keeps it in view.
    pub(super) fn select_position(&mut self, pos: usize) -> Vec<Effect> {
        let pos = pos.min(self.shown().saturating_sub(1));
        self.cursor = pos;
        let height = self.areas().list_rows().max(1);
        if pos < self.offset {
            self.offset = pos;
        } else if pos >= self.offset + height {
            self.offset = pos + 1 - height;
        }
        self.offset = self.offset.min(self.shown().saturating_sub(height));
        let id = self.row_at(pos).map(|r| r.id);
        if id == self.selected {
            return Vec::new();
        }
        self.selected = id;
        self.detail_scroll = 0;
        // An in-flight row has no record to load yet.
        let recorded = self.row_at(pos).is_some_and(|r| !r.in_flight);
        id.filter(|_| recorded)
            .map(Effect::LoadDetail)
            .into_iter()
            .collect()
    }
}
