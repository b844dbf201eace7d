//! `hooktap listen` on a terminal: the inspector, fed by the store's commits and the
//! tunnel's state changes (the headless lines stay for pipes, `--no-tui` and `--json`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use crate::cli::ListenArgs;
use crate::forward::Forwarder;
use crate::replay::resign_with;
use crate::signature::Verifier;
use crate::store::{Location, Store};
use crate::tui::app::{HeaderInfo, Row, TunnelState};
use crate::tui::{Feed, FeedEvent, Services};
use crate::tunnel::TunnelEvent;

/// Whether `listen` opens the inspector: a terminal on both ends, and neither
/// `--no-tui` nor `--json`.
pub fn wants_tui(args: &ListenArgs) -> bool {
    !args.no_tui && !args.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// What the inspector of a running `listen` needs.
pub struct Parts {
    /// The store it records into.
    pub store: Store,
    /// Its forwarder (replays go through it).
    pub forwarder: Forwarder,
    /// Its secrets.
    pub verifier: Verifier,
    /// Where it captures.
    pub capture_addr: SocketAddr,
    /// Where it forwards.
    pub target: String,
    /// The tunnel's public URLs (none without `--relay`).
    pub public_urls: Vec<String>,
    /// The tunnel's later state changes.
    pub tunnel: Option<mpsc::UnboundedReceiver<TunnelEvent>>,
}

/// Runs the inspector until the user quits.
pub async fn run(args: &ListenArgs, parts: Parts) -> anyhow::Result<()> {
    let header = HeaderInfo {
        title: format!("capturing on http://{}", parts.capture_addr),
        public_urls: parts.public_urls.clone(),
        target: Some(parts.target),
        tunnel: if parts.tunnel.is_some() {
            TunnelState::Online
        } else {
            TunnelState::Local
        },
        queued_delivered: 0,
        dropped: 0,
    };
    let (tx, events) = mpsc::channel(64);
    tokio::spawn(committed(parts.store.subscribe(), tx.clone()));
    if let Some(tunnel) = parts.tunnel {
        tokio::spawn(tunnel_states(
            tunnel,
            header.clone(),
            parts.store.clone(),
            tx,
        ));
    }
    let resign = parts
        .verifier
        .configured()
        .next()
        .is_some()
        .then(|| resign_with(parts.verifier.clone()));
    let file = match &args.store.store {
        Some(text) => match Location::parse(text) {
            Location::File(path) => Some(path),
            Location::Memory => None,
        },
        None => match Location::default_file() {
            Ok(Location::File(path)) => Some(path),
            _ => None,
        },
    };
    let services = Services {
        store: parts.store,
        forwarder: parts.forwarder,
        verifier: parts.verifier,
        resign,
        search: Arc::default(),
        file,
    };
    let options = crate::tui::Options {
        mouse: !args.no_mouse,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    crate::tui::run(Feed::new(header, events), services, options).await
}

/// The store's commits, a batch per wake-up.
async fn committed(
    mut rx: broadcast::Receiver<Arc<crate::exchange::Exchange>>,
    tx: mpsc::Sender<FeedEvent>,
) {
    loop {
        let first = match rx.recv().await {
            Ok(ex) => ex,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut rows = vec![Row::from_exchange(&first)];
        while let Ok(ex) = rx.try_recv() {
            rows.push(Row::from_exchange(&ex));
        }
        if tx.send(FeedEvent::Committed(rows)).await.is_err() {
            return;
        }
    }
}

/// The tunnel's state changes as the header shows them.
async fn tunnel_states(
    mut rx: mpsc::UnboundedReceiver<TunnelEvent>,
    mut header: HeaderInfo,
    store: Store,
    tx: mpsc::Sender<FeedEvent>,
) {
    while let Some(event) = rx.recv().await {
        header.tunnel = match event {
            TunnelEvent::Online {
                public_urls,
                queued,
                ..
            } => {
                header.public_urls = public_urls;
                header.queued_delivered += queued;
                TunnelState::Online
            }
            TunnelEvent::Offline { reason } => TunnelState::Offline(reason),
            TunnelEvent::Reconnecting { delay, .. } => TunnelState::Reconnecting {
                in_secs: delay.as_secs().max(1),
                reason: match &header.tunnel {
                    TunnelState::Offline(reason) => reason.clone(),
                    _ => "connection lost".into(),
                },
            },
            TunnelEvent::Refused(message) => {
                TunnelState::Offline(format!("the relay refused the tunnel: {message}"))
            }
            TunnelEvent::Replaced(message) => {
                TunnelState::Offline(format!("the tunnel was {message}"))
            }
        };
        header.dropped = store.dropped();
        if tx.send(FeedEvent::Header(header.clone())).await.is_err() {
            return;
        }
    }
}
