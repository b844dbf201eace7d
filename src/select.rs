//! Choosing recorded exchanges for replay and export: ids or prefixes and the shared
//! record filter, always in the order they were received.

use crate::exchange::{Exchange, ExchangeId, Source};
use crate::store::{Filter, LookupError, Reader, Store, Summary};

/// Read access shared by a writable [`Store`] and a read-only [`Reader`].
pub trait Records {
    /// The newest exchanges matching `filter`, newest first.
    fn list(&self, filter: &Filter) -> anyhow::Result<Vec<Summary>>;
    /// The exchange whose id starts with `prefix`.
    fn get(&self, prefix: &str) -> Result<Exchange, LookupError>;
}

impl Records for Store {
    fn list(&self, filter: &Filter) -> anyhow::Result<Vec<Summary>> {
        Store::list(self, filter)
    }
    fn get(&self, prefix: &str) -> Result<Exchange, LookupError> {
        Store::get(self, prefix)
    }
}

impl Records for Reader {
    fn list(&self, filter: &Filter) -> anyhow::Result<Vec<Summary>> {
        Reader::list(self, filter)
    }
    fn get(&self, prefix: &str) -> Result<Exchange, LookupError> {
        Reader::get(self, prefix)
    }
}

/// Which exchanges a command works on: ids, and the shared record [`Filter`].
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Ids or unique prefixes; empty means "every recorded delivery the filter allows".
    pub ids: Vec<String>,
    /// What the records must match (named ones too).
    pub filter: Filter,
}

impl Selection {
    /// True when nothing narrows the selection down: no ids and no filter.
    pub fn is_everything(&self) -> bool {
        self.ids.is_empty() && self.filter.is_everything()
    }

    fn admits(&self, ex: &Exchange) -> bool {
        self.filter.admits(ex)
    }
}

/// The ids of the selected exchanges, oldest first, each once.
///
/// Named ids may be anything, replays included, and so is an empty selection (every
/// record). Without ids the filters pick from the recorded deliveries only: earlier
/// replays are left out, so `replay --failed` run twice does not replay its own replays.
pub fn select(records: &impl Records, selection: &Selection) -> anyhow::Result<Vec<ExchangeId>> {
    let mut chosen: Vec<(i64, ExchangeId)> = Vec::new();
    if selection.ids.is_empty() {
        for row in records.list(&selection.filter)? {
            if row.source != Source::Replay || selection.is_everything() {
                chosen.push((row.received_at_us, ExchangeId(row.id)));
            }
        }
    } else {
        for prefix in &selection.ids {
            let ex = records.get(prefix).map_err(lookup_error)?;
            if selection.admits(&ex) {
                chosen.push((ex.received_at_us, ex.id));
            }
        }
    }
    chosen.sort();
    chosen.dedup_by(|a, b| a.1 == b.1);
    Ok(chosen.into_iter().map(|(_, id)| id).collect())
}

/// `ids` without the originals that already have a successful (2xx) replay, and how many
/// were left out: `replay --failed` run again must not resend what a replay fixed, since
/// the app may not be idempotent.
pub fn without_replayed(
    records: &impl Records,
    ids: Vec<ExchangeId>,
) -> anyhow::Result<(Vec<ExchangeId>, usize)> {
    if ids.is_empty() {
        return Ok((ids, 0));
    }
    let replayed: std::collections::HashSet<String> = records
        .list(&Filter::default())?
        .into_iter()
        .filter(|row| {
            row.source == Source::Replay && row.status.is_some_and(|s| (200..300).contains(&s))
        })
        .filter_map(|row| row.replay_of)
        .collect();
    let before = ids.len();
    let kept: Vec<ExchangeId> = ids
        .into_iter()
        .filter(|id| !replayed.contains(&id.0))
        .collect();
    let skipped = before - kept.len();
    Ok((kept, skipped))
}

/// A lookup error as the user should read it.
pub fn lookup_error(err: LookupError) -> anyhow::Error {
    match err {
        LookupError::Store(e) => anyhow::Error::new(e).context("could not read the store"),
        other => anyhow::Error::new(other),
    }
}
