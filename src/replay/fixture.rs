//! `replay --from-file`: the requests of a fixture (`export --fixture`) sent again, in
//! order, each recorded as a replay of the fixture entry's id.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use super::{Job, Pacer, ReplayError, ReplayOptions, Replayed, base_target, replay_all};
use crate::capture::Forwarder;
use crate::exchange::ExchangeId;
use crate::export::fixture::{read, to_exchange};

/// Sends every request in the fixture at `path`, in order, to `to` or to where each was
/// first sent; each is recorded as a replay of the fixture entry's id.
pub async fn replay_file(
    forwarder: &Forwarder,
    path: &Path,
    opts: &ReplayOptions,
    concurrency: usize,
    pacer: &Pacer,
    report: impl FnMut(&ExchangeId, Result<Replayed, ReplayError>),
) -> anyhow::Result<()> {
    let fixture = read(path)?;
    let mut jobs: Vec<Job> = Vec::new();
    let mut by_id = HashMap::new();
    for (i, entry) in fixture.requests.into_iter().enumerate() {
        let mut ex =
            to_exchange(entry).with_context(|| format!("request {} of the fixture", i + 1))?;
        if by_id.contains_key(&ex.id) {
            ex.id = ExchangeId::generate();
        }
        if opts.to.is_none() {
            base_target(&ex.target, &ex.request.uri)
                .map_err(|e| anyhow::anyhow!("request {} of the fixture: {e}", i + 1))?;
        }
        jobs.push((ex.id.clone(), None));
        by_id.insert(ex.id.clone(), ex);
    }
    let load = |id: &ExchangeId| {
        by_id
            .get(id)
            .cloned()
            .ok_or_else(|| format!("{id} is not in the fixture"))
    };
    replay_all(forwarder, jobs, opts, concurrency, pacer, load, report).await;
    Ok(())
}
