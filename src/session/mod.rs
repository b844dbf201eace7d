//! One `listen` session in the library: the capture listener, the local API and the
//! tunnel, started from a typed [`ListenConfig`], watched through [`Session::tunnel`] and
//! [`Session::stats`], stopped by [`Session::shutdown`]. The headless lines and the
//! inspector are two frontends of it (`cmd/listen.rs`, `cmd/listen_tui.rs`).

mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiConfig};
use crate::capture::CaptureServer;
use crate::capture::Respond;
use crate::capture::Target;
use crate::capture::{ForwardConfig, Forwarder, Started};
use crate::exchange::Exchange;
use crate::signature::Verifier;
use crate::store::{Location, Options, Store};
use crate::tunnel::{self, AgentConfig, ConnectError, TunnelEvent};

pub use status::{Stats, TunnelStatus};

/// Tunnel events kept for a frontend that has not read them yet.
const TUNNEL_EVENT_BUFFER: usize = 64;

/// Everything `listen` runs, parsed and checked.
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// Where requests are forwarded, how long the app may take, what is kept of bodies.
    pub forward: ForwardConfig,
    /// No app: the answer hooktap gives every request itself (the forward target is then
    /// unused).
    pub respond: Option<Respond>,
    /// The local capture listener.
    pub capture_addr: SocketAddr,
    /// The store file (or memory).
    pub store: Location,
    /// How many exchanges the store keeps.
    pub retain: usize,
    /// How many bytes the store keeps (`None`: the store's default).
    pub retain_bytes: Option<u64>,
    /// The secrets signatures are checked with.
    pub verifier: Verifier,
    /// The local API.
    pub api: ApiConfig,
    /// The tunnel to a relay, if any.
    pub tunnel: Option<AgentConfig>,
}

/// A running `listen`: its parts, their addresses and what they are doing.
pub struct Session {
    store: Store,
    forwarder: Forwarder,
    verifier: Verifier,
    capture_addr: SocketAddr,
    api_addr: Option<SocketAddr>,
    tunnel: watch::Receiver<TunnelStatus>,
    stats: watch::Receiver<Stats>,
    tunnel_events: Option<broadcast::Receiver<TunnelEvent>>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Session {
    /// Opens the store, binds the capture listener and the API, opens the tunnel (whose
    /// first connection must succeed: a wrong `--relay` or token fails here, at once) and
    /// starts serving.
    pub async fn start(config: ListenConfig) -> anyhow::Result<Session> {
        let verifier = config.verifier.clone();
        let check = verifier.clone();
        let store = Store::open(Options {
            location: config.store,
            retain: config.retain,
            retain_bytes: config.retain_bytes,
            verdict: Some(Arc::new(move |ex: &Exchange| {
                check.check_exchange(ex, None, None)
            })),
        })?;
        let mut forwarder = Forwarder::new(config.forward, store.clone());
        if let Some(respond) = config.respond {
            forwarder = forwarder.answering(respond);
        }
        let server = CaptureServer::bind(config.capture_addr, forwarder.clone()).await?;
        let capture_addr = server.local_addr()?;
        let api = api::bind_for_listen(&config.api, forwarder.clone(), verifier.clone()).await?;
        let api_addr = api.as_ref().map(|a| a.local_addr()).transpose()?;
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let (status, tunnel) = watch::channel(TunnelStatus::Local);
        let (events, first_events) = broadcast::channel(TUNNEL_EVENT_BUFFER);
        if let Some(agent) = config.tunnel {
            let tunnel = match tunnel::start(agent, forwarder.clone(), shutdown.child_token()).await
            {
                Ok(tunnel) => tunnel,
                Err(ConnectError::Refused(refusal)) => {
                    anyhow::bail!("the relay refused the tunnel: {}", refusal.message)
                }
                Err(ConnectError::Failed(err)) => return Err(err),
            };
            status.send_replace(TunnelStatus::Online {
                name: tunnel.welcome.name.clone(),
                public_urls: tunnel.welcome.public_urls.clone(),
            });
            tasks.push(tokio::spawn(status::follow_tunnel(
                tunnel.events,
                status,
                events,
            )));
            tasks.push(tunnel.task);
        }
        let (stats_tx, stats) = watch::channel(Stats::default());
        tasks.push(tokio::spawn(status::count(
            store.clone(),
            stats_tx,
            shutdown.child_token(),
        )));
        tasks.push(tokio::spawn(server.run(shutdown.child_token())));
        if let Some(api) = api {
            tasks.push(tokio::spawn(api.run(shutdown.child_token())));
        }
        Ok(Session {
            store,
            forwarder,
            verifier,
            capture_addr,
            api_addr,
            tunnel,
            stats,
            tunnel_events: Some(first_events),
            shutdown,
            tasks,
        })
    }

    /// Where the capture listener is bound.
    pub fn capture_addr(&self) -> SocketAddr {
        self.capture_addr
    }

    /// Where the API is bound (`None`: off).
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr
    }

    /// Where requests are forwarded; `None` when hooktap answers them itself.
    pub fn target(&self) -> Option<&Target> {
        match self.forwarder.answers() {
            Some(_) => None,
            None => Some(self.forwarder.target()),
        }
    }

    /// Where requests go, for a person: `forwarding to http://…`, or
    /// `no app: answering 200`.
    pub fn destination(&self) -> String {
        match self.forwarder.answers() {
            Some(respond) => respond.summary(),
            None => format!("forwarding to {}", self.forwarder.target()),
        }
    }

    /// The store the session records into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The forwarder (replays go through it, and are recorded like the rest).
    pub fn forwarder(&self) -> &Forwarder {
        &self.forwarder
    }

    /// The secrets signatures are checked with.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The tunnel's state, changed as it goes online, drops and comes back.
    pub fn tunnel(&self) -> watch::Receiver<TunnelStatus> {
        self.tunnel.clone()
    }

    /// Counts of what the session recorded.
    pub fn stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// Every exchange as it begins, before the app answers (its record follows).
    pub fn started(&self) -> broadcast::Receiver<Arc<Started>> {
        self.forwarder.started()
    }

    /// Every exchange, once its record is committed.
    pub fn committed(&self) -> broadcast::Receiver<Arc<Exchange>> {
        self.store.subscribe()
    }

    /// Every tunnel event since the session started (the watch keeps only the latest):
    /// for a frontend that prints each. Given once; `None` after.
    pub fn take_tunnel_events(&mut self) -> Option<broadcast::Receiver<TunnelEvent>> {
        self.tunnel_events.take()
    }

    /// Stops taking requests, lets those in flight (the tunnel's too) finish, then
    /// commits their records: every exchange that reached the app is kept.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.store.flush().await
    }
}
