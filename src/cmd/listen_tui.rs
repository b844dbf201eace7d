//! `hooktap listen` on a terminal: the inspector as the session's frontend, fed by its
//! commits and its watches (the headless lines stay for pipes, `--no-tui` and `--json`).

use std::io::IsTerminal;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};

use crate::cli::ListenArgs;
use crate::replay::resign_with;
use crate::session::{Session, Stats, TunnelStatus};
use crate::store::Location;
use crate::tui::app::{HeaderInfo, Row, TunnelState};
use crate::tui::{Feed, FeedEvent, Services};

/// Whether `listen` opens the inspector: a terminal on both ends, and neither
/// `--no-tui` nor `--json`.
pub fn wants_tui(args: &ListenArgs) -> bool {
    !args.no_tui && !args.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs the inspector on `session` until the user quits.
pub async fn run(args: &ListenArgs, session: &Session, store: Location) -> anyhow::Result<()> {
    let options = crate::tui::Options {
        mouse: !args.no_mouse,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    inspect(session, store, options, None).await
}

/// The inspector on a running `session` recording into `store`, until the user quits:
/// what `listen` and `demo` both open. `notice` (when given) puts a standing hint on the
/// status line and changes it as it changes.
pub async fn inspect(
    session: &Session,
    store: Location,
    options: crate::tui::Options,
    notice: Option<watch::Receiver<Option<String>>>,
) -> anyhow::Result<()> {
    let mut tunnel = session.tunnel();
    let mut stats = session.stats();
    let mut header = header(
        session,
        &tunnel.borrow_and_update(),
        &stats.borrow_and_update(),
    );
    let mut notice = notice;
    if let Some(notice) = &mut notice {
        header.notice = notice.borrow_and_update().clone();
    }
    let (tx, events) = mpsc::channel(64);
    tokio::spawn(batches(
        session.committed(),
        tx.clone(),
        |ex| Row::from_exchange(ex),
        FeedEvent::Committed,
    ));
    tokio::spawn(batches(
        session.started(),
        tx.clone(),
        started_row,
        FeedEvent::Started,
    ));
    tokio::spawn(header_changes(tunnel, stats, notice, header.clone(), tx));
    let verifier = session.verifier().clone();
    let resign = verifier
        .configured()
        .next()
        .is_some()
        .then(|| resign_with(verifier.clone()));
    let services = Services {
        store: session.store().clone(),
        forwarder: session.forwarder().clone(),
        verifier,
        resign,
        search: Arc::default(),
        file: match store {
            Location::File(path) => Some(path),
            Location::Memory => None,
        },
    };
    crate::tui::run(Feed::new(header, events), services, options).await
}

/// The header as the session's state says.
fn header(session: &Session, tunnel: &TunnelStatus, stats: &Stats) -> HeaderInfo {
    let mut header = HeaderInfo {
        title: format!("capturing on http://{}", session.capture_addr()),
        public_urls: Vec::new(),
        target: Some(
            session
                .target()
                .map_or_else(|| session.destination(), ToString::to_string),
        ),
        tunnel: TunnelState::Local,
        queued_delivered: 0,
        dropped: 0,
        notice: None,
        writer: None,
    };
    update(&mut header, tunnel, stats);
    header
}

fn update(header: &mut HeaderInfo, tunnel: &TunnelStatus, stats: &Stats) {
    header.queued_delivered = stats.queued_delivered;
    header.dropped = stats.dropped;
    header.tunnel = match tunnel {
        TunnelStatus::Local => TunnelState::Local,
        TunnelStatus::Online { public_urls, .. } => {
            header.public_urls = public_urls.clone();
            TunnelState::Online
        }
        TunnelStatus::Offline { reason } | TunnelStatus::Stopped { reason } => {
            TunnelState::Offline(reason.clone())
        }
        TunnelStatus::Reconnecting {
            reason, retry_at, ..
        } => TunnelState::Reconnecting {
            in_secs: retry_at
                .saturating_duration_since(std::time::Instant::now())
                .as_secs()
                .max(1),
            reason: reason.clone(),
        },
    };
}

/// Passes what `rx` brings on to the inspector, a batch per wake-up (`event` wraps it):
/// the store's commits and the exchanges as they begin (in-flight rows). A listener that
/// fell behind skips what it missed: rows still come with their records.
async fn batches<T: Clone, R>(
    mut rx: broadcast::Receiver<T>,
    tx: mpsc::Sender<FeedEvent>,
    row: impl Fn(&T) -> R,
    event: impl Fn(Vec<R>) -> FeedEvent,
) {
    loop {
        let first = match rx.recv().await {
            Ok(item) => item,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut rows = vec![row(&first)];
        while let Ok(more) = rx.try_recv() {
            rows.push(row(&more));
        }
        if tx.send(event(rows)).await.is_err() {
            return;
        }
    }
}

/// An exchange begun, as an in-flight row of the inspector.
fn started_row(s: &Arc<crate::capture::Started>) -> crate::tui::Started {
    crate::tui::Started {
        id: s.id.to_u64().unwrap_or_default(),
        method: s.method.clone(),
        path: s.uri.clone(),
        source: s.source,
        started_at_us: s.received_at_us,
    }
}

/// The header again whenever the tunnel, the counts or the notice change.
async fn header_changes(
    mut tunnel: watch::Receiver<TunnelStatus>,
    mut stats: watch::Receiver<Stats>,
    mut notice: Option<watch::Receiver<Option<String>>>,
    mut header: HeaderInfo,
    tx: mpsc::Sender<FeedEvent>,
) {
    loop {
        let before = header.clone();
        tokio::select! {
            changed = tunnel.changed() => if changed.is_err() { return },
            changed = stats.changed() => if changed.is_err() { return },
            changed = async { notice.as_mut()?.changed().await.ok() }, if notice.is_some() => {
                match (changed, &mut notice) {
                    (Some(()), Some(notice)) => header.notice = notice.borrow_and_update().clone(),
                    // The notice's sender is gone: it keeps its last text.
                    _ => notice = None,
                }
            }
        }
        update(
            &mut header,
            &tunnel.borrow_and_update(),
            &stats.borrow_and_update(),
        );
        if header != before && tx.send(FeedEvent::Header(header.clone())).await.is_err() {
            return;
        }
    }
}
