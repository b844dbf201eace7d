//! The filter as it is typed: in-memory terms apply at once; the bare words (a search of
//! headers and bodies in the store) wait until the typing pauses ([`SEARCH_DEBOUNCE`]),
//! a running search is cancelled as soon as the words change, and its hits stream in.

use std::time::Duration;

use super::app::App;
use super::filter::Filter;
use super::update::Effect;

/// How long the words must stay as they are before a text search starts.
pub const SEARCH_DEBOUNCE: Duration = Duration::from_millis(150);

impl App {
    /// The filter text changed.
    pub(super) fn filter_changed(&mut self) -> Vec<Effect> {
        match Filter::parse(&self.filter_text) {
            Ok(filter) => {
                self.filter_error = None;
                self.apply_filter(filter)
            }
            Err(err) => {
                self.filter_error = Some(err);
                Vec::new()
            }
        }
    }

    /// Drops the filter.
    pub(super) fn clear_filter(&mut self) -> Vec<Effect> {
        self.filter_text.clear();
        self.filter_error = None;
        self.apply_filter(Filter::default())
    }

    fn apply_filter(&mut self, filter: Filter) -> Vec<Effect> {
        let words_changed = filter.words() != self.filter.words();
        self.filter = filter;
        let mut effects = Vec::new();
        if words_changed {
            if self.search_running && self.searching {
                effects.push(Effect::CancelSearch);
            }
            self.search_gen += 1;
            self.hits.clear();
            self.search_running = false;
            self.search_scanned = 0;
            self.searching = !self.filter.words().is_empty();
            if self.searching {
                effects.push(Effect::SearchSoon {
                    generation: self.search_gen,
                    after: SEARCH_DEBOUNCE,
                });
            }
        }
        self.recompute_visible();
        effects.extend(self.relocate());
        effects
    }

    /// The typing paused: starts the search `generation` if it is still the current one.
    pub(super) fn search_due(&mut self, generation: u64) -> Vec<Effect> {
        let words = self.filter.words();
        if generation != self.search_gen || self.search_running || words.is_empty() {
            return Vec::new();
        }
        self.search_running = true;
        vec![Effect::Search {
            generation,
            words,
            ids: None,
        }]
    }

    /// Some of a search's results.
    pub(super) fn search_hits(
        &mut self,
        generation: u64,
        ids: Vec<u64>,
        scanned: u64,
        done: bool,
    ) -> Vec<Effect> {
        if generation != self.search_gen {
            return Vec::new();
        }
        if ids.is_empty() && !done {
            self.search_scanned = self.search_scanned.max(scanned);
            return Vec::new();
        }
        self.hits.extend(ids);
        self.search_scanned = self.search_scanned.max(scanned);
        self.searching &= !done;
        self.recompute_visible();
        self.relocate()
    }

    /// The search to run among rows that arrived (`None` while the words are typed: the
    /// search that starts when the typing pauses will cover them).
    pub(super) fn search_new(&self, ids: Vec<u64>) -> Option<Effect> {
        let words = self.filter.words();
        let wanted =
            !words.is_empty() && !ids.is_empty() && (self.search_running || !self.searching);
        wanted.then_some(Effect::Search {
            generation: self.search_gen,
            words,
            ids: Some(ids),
        })
    }
}
