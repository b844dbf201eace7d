//! `hooktap requests` and `hooktap show`: read the store, also while `listen` writes.

use anyhow::Context;

use super::{UsageError, emit};
use crate::cli::{RequestsArgs, ShowArgs, StoreArgs};
use crate::output;
use crate::store::{Filter, Location, LookupError, Reader, Store};

pub(super) fn open(args: &StoreArgs) -> anyhow::Result<Reader> {
    Ok(match args.location()? {
        Location::File(path) => Store::open_read_only(&path)?,
        Location::Memory => {
            return Err(UsageError(
                "--store :memory: keeps nothing between runs, so there is nothing to read; pass the file `listen` used".into(),
            )
            .into());
        }
    })
}

/// `hooktap requests`.
pub fn requests(args: RequestsArgs) -> anyhow::Result<()> {
    let store = open(&args.store)?;
    let filter = Filter {
        limit: Some(args.limit),
        ..args.filter.filter()
    };
    let rows = store.list(&filter)?;
    if args.json {
        let mut text = serde_json::to_string_pretty(&rows)?;
        text.push('\n');
        emit(text.as_bytes())?;
    } else if rows.is_empty() {
        eprintln!("hooktap: {}", nothing_listed(&args));
    } else {
        emit(output::summary_table(&rows).as_bytes())?;
    }
    Ok(())
}

/// Why `requests` shows no rows: nothing recorded, or nothing matching the filters given.
fn nothing_listed(args: &RequestsArgs) -> String {
    let filters = args.filter.describe();
    if filters.is_empty() {
        "no requests recorded yet".into()
    } else {
        format!("no requests match {}", filters.join(" "))
    }
}

/// `hooktap show`.
pub fn show(args: ShowArgs) -> anyhow::Result<()> {
    let store = open(&args.store)?;
    let exchange = store.get(&args.id).map_err(|err| match err {
        LookupError::Store(e) => anyhow::Error::new(e).context("could not read the store"),
        other => anyhow::Error::new(other),
    })?;
    if args.raw {
        emit(&crate::web::message::raw_request(&exchange)).context("writing the request")?;
    } else if args.json {
        let mut text = serde_json::to_string_pretty(&output::exchange_json(&exchange))?;
        text.push('\n');
        emit(text.as_bytes())?;
    } else {
        emit(output::show(&exchange).as_bytes())?;
    }
    Ok(())
}
