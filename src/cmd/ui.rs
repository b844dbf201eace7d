//! `hooktap ui`: the inspector on a store file, tailing what any process commits to it;
//! its replays are recorded in that store.

use std::io::IsTerminal;
use std::sync::Arc;

use super::UsageError;
use crate::capture::Target;
use crate::capture::{ForwardConfig, Forwarder};
use crate::cli::UiArgs;
use crate::exchange::Exchange;
use crate::replay::resign_with;
use crate::store::{Location, Options, Store};
use crate::tui::app::{HeaderInfo, TunnelState};
use crate::tui::{Feed, Services};

/// Runs `hooktap ui`.
pub async fn ui(args: UiArgs) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "hooktap ui needs a terminal; `hooktap requests` and `hooktap show ID` print the same records"
                .into(),
        )
        .into());
    }
    let path = match args.store.location()? {
        Location::File(path) => path,
        Location::Memory => {
            return Err(UsageError(
                "--store :memory: keeps nothing between runs, so there is nothing to inspect; pass the file `listen` uses".into(),
            )
            .into());
        }
    };
    let verifier = args.secrets.verifier()?;
    if !path.exists() {
        // Told as `requests` tells it (before a writable open would create the file).
        Store::open_read_only(&path)?;
    }
    // Before this process touches the file: a -wal changed since the last checkpoint
    // is another process's commit.
    let wal_changed_us = crate::tui::writer::wal_changed_us(&path);
    let header = HeaderInfo {
        title: format!("viewer of {}", path.display()),
        public_urls: Vec::new(),
        target: None,
        tunnel: TunnelState::Viewer,
        queued_delivered: 0,
        dropped: 0,
        notice: None,
        writer: None,
    };
    let file = Some(path.clone());
    let check = verifier.clone();
    // Replays are written beside the process that records (SQLite WAL allows it);
    // retention is left to that process, so this writer never prunes.
    let store = Store::open(Options {
        location: Location::File(path.clone()),
        retain: usize::MAX,
        retain_bytes: Some(u64::MAX),
        verdict: Some(Arc::new(move |ex: &Exchange| {
            check.check_exchange(ex, None, None)
        })),
    })?;
    // This process's own commits (replays) are not the writer's.
    let feed = Feed::tail(path, header, store.subscribe(), wal_changed_us)?;
    let forwarder = Forwarder::new(
        ForwardConfig {
            // Every replay names its own target; this one is never used.
            target: Target::parse("80").expect("80 is a valid port"),
            timeout: args.timeout,
            capture_limit: crate::capture::DEFAULT_CAPTURE_LIMIT,
        },
        store.clone(),
    );
    let resign = verifier
        .configured()
        .next()
        .is_some()
        .then(|| resign_with(verifier.clone()));
    let services = Services {
        store: store.clone(),
        forwarder,
        verifier,
        resign,
        search: Arc::default(),
        file,
    };
    let options = crate::tui::Options {
        mouse: !args.no_mouse,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let result = crate::tui::run(feed, services, options).await;
    store.flush().await?;
    result
}
