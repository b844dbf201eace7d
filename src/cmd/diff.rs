//! `hooktap diff`: a replay against its original, or any two records.

use super::{UsageError, emit};
use crate::cli::DiffArgs;
use crate::select::lookup_error;

/// Runs `hooktap diff`.
pub fn diff(args: DiffArgs) -> anyhow::Result<()> {
    let store = super::requests::open(&args.store)?;
    let first = store.get(&args.id).map_err(lookup_error)?;
    let (a, b) = match &args.other {
        Some(other) => (first, store.get(other).map_err(lookup_error)?),
        None => {
            let Some(original) = &first.replay_of else {
                return Err(UsageError(format!(
                    "{} is not a replay: name a second ID to compare it with",
                    first.id
                ))
                .into());
            };
            let original = store.get(original.as_str()).map_err(|err| {
                anyhow::anyhow!(
                    "the original of {} is no longer in the store ({err}); name a second ID to compare with",
                    first.id
                )
            })?;
            (original, first)
        }
    };
    emit(crate::diff::render(&a, &b).as_bytes())?;
    Ok(())
}
