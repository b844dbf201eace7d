//! The relay (`hooktap relay`): public HTTP(S) ingress that routes each request by name
//! into the agent's tunnel, accepts tunnels on the same port, and queues requests for
//! agents that are away.
//!
//! - [`auth`]: tokens and the names they may hold; [`admit`]: who gets which name;
//! - [`registry`]: the live tunnels;
//! - [`tunnel`]: the upgrade, the handshake, the h2 client per agent;
//! - [`delivery`]: the queue's delivery when an agent comes back;
//! - [`ingress`]: routing, forwarding, limits and the `/_hooktap/` endpoints;
//! - [`queue`]: the SQLite offline queue; [`room`]: its byte reservations; [`spool`]:
//!   bodies streamed to disk before they are queued; [`dead`]: failed deliveries and dead
//!   letters; [`names`]: who owns each name, kept with it; [`counts`]: its figures;
//! - [`strict`], [`sniff`]: request heads another parser could read differently, refused;
//! - [`deadline`]: every sender body's read deadline; [`peers`]: per-address limits;
//!   [`proxies`]: the sender's address behind a trusted front proxy;
//! - [`limits`], [`metrics`], [`tls`].

pub mod admit;
mod answers;
pub mod auth;
pub mod deadline;
pub mod delivery;
mod endpoints;
pub mod ingress;
pub mod limits;
pub mod metrics;
mod offline;
pub mod peers;
pub mod proxies;
pub mod queue;
pub use queue::{counts, dead, names};
pub mod registry;
pub mod room;
pub mod sniff;
pub mod spool;
pub mod strict;
pub mod tls;
pub mod tunnel;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

pub use auth::Auth;
pub use limits::Limits;

/// What the relay does with a request for a known name whose agent is offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfflineMode {
    /// Store it and answer `202`; deliver when the agent is back.
    Queue,
    /// Answer `503` with `Retry-After`, so the sender retries.
    Reject,
}

/// The offline queue's directory when `--data-dir` is not given: hooktap/relay in the
/// user's data directory.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    Ok(dirs::data_dir()
        .ok_or_else(|| anyhow::anyhow!("could not find your data directory; pass --data-dir"))?
        .join("hooktap")
        .join("relay"))
}

/// Everything the relay is configured with.
pub struct RelayConfig {
    /// How the relay is reached from outside (`https://relay.example.com`); default: the
    /// scheme and Host the agent connected with.
    pub public_url: Option<String>,
    /// Enables `<name>.<domain>` routing.
    pub domain: Option<String>,
    /// Who may open tunnels.
    pub auth: Auth,
    /// Where the offline queue lives; `None` keeps it in memory.
    pub data_dir: Option<PathBuf>,
    /// Queue or reject requests for offline agents.
    pub offline: OfflineMode,
    /// The limits.
    pub limits: Limits,
    /// Serve HTTPS/WSS with this config.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Interval between heartbeats to each agent.
    pub heartbeat: Duration,
    /// When set, `/_hooktap/metrics` needs `Authorization: Bearer` with the token of this
    /// fingerprint; `/_hooktap/health` stays public.
    pub metrics_token: Option<auth::Fingerprint>,
    /// Front proxies whose `X-Forwarded-For` names the sender, for the per-address limits
    /// and the logs.
    pub trusted_proxies: Vec<proxies::TrustedProxy>,
}

impl RelayConfig {
    /// A plain-HTTP relay with default limits, in-memory queue, and `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            public_url: None,
            domain: None,
            auth,
            data_dir: None,
            offline: OfflineMode::Queue,
            limits: Limits::default(),
            tls: None,
            heartbeat: crate::tunnel::protocol::DEFAULT_HEARTBEAT,
            metrics_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// State shared by every connection of one relay.
pub struct Shared {
    /// The configuration.
    pub config: RelayConfig,
    /// The live tunnels.
    pub registry: registry::Registry,
    /// The offline queue and the names handed out.
    pub queue: queue::Queue,
    /// The counters.
    pub metrics: metrics::Metrics,
    /// Tunnel handshakes per peer address in the last minute.
    pub handshakes: peers::HandshakeRate,
    /// Anonymous tunnels open per peer address.
    pub anonymous_tunnels: Arc<peers::PeerCounts>,
    /// `http` or `https`: what senders use, for `X-Forwarded-Proto` and URLs.
    pub scheme: &'static str,
    /// Cancelled when the relay stops.
    pub shutdown: CancellationToken,
    /// The tunnels' tasks (each outlives the HTTP connection that upgraded to it): a stop
    /// waits for them to close and log, not only for the connections.
    pub tunnels: TaskTracker,
}

/// A bound relay, ready to [`run`](Relay::run).
pub struct Relay {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Relay {
    /// Binds the public listener and opens the queue.
    pub async fn bind(addr: SocketAddr, config: RelayConfig) -> anyhow::Result<Self> {
        let queue = queue::Queue::open(config.data_dir.as_deref())?;
        let listener = TcpListener::bind(addr).await.map_err(|err| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "{addr} is already in use: stop the other program or pass another --listen"
                )
            } else {
                anyhow::Error::new(err).context(format!("could not listen on {addr}"))
            }
        })?;
        let scheme = match (&config.public_url, &config.tls) {
            (Some(url), _) if url.starts_with("https://") => "https",
            (Some(_), _) => "http",
            (None, Some(_)) => "https",
            (None, None) => "http",
        };
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                config,
                registry: registry::Registry::default(),
                queue,
                metrics: metrics::Metrics::default(),
                handshakes: peers::HandshakeRate::default(),
                anonymous_tunnels: Arc::default(),
                scheme,
                shutdown: CancellationToken::new(),
                tunnels: TaskTracker::new(),
            }),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the relay's address")
    }

    /// The number of live tunnels, as agents come and go.
    pub fn tunnels_online(&self) -> tokio::sync::watch::Receiver<usize> {
        self.shared.registry.watch_online()
    }

    /// Serves until `shutdown` is cancelled; then closes every tunnel and connection.
    pub async fn run(self, shutdown: CancellationToken) {
        let shared = self.shared;
        let tls = shared.config.tls.clone().map(TlsAcceptor::from);
        let tracker = TaskTracker::new();
        tracker.spawn(expire_names(shared.clone()));
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        debug!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let tls = tls.clone();
            tracker.spawn(async move {
                match tls {
                    None => serve_connection(shared, stream, peer).await,
                    Some(acceptor) => {
                        let timeout = shared.config.limits.handshake_timeout;
                        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => serve_connection(shared, stream, peer).await,
                            Ok(Err(err)) => debug!(%peer, %err, "TLS handshake failed"),
                            Err(_) => debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            });
        }
        drop(self.listener);
        shared.shutdown.cancel();
        shared.registry.close_all();
        tracker.close();
        shared.tunnels.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            tracker.wait().await;
            shared.tunnels.wait().await;
        })
        .await;
    }
}

/// Releases anonymous names unused for `--anonymous-name-ttl`, checking a few times per
/// TTL (at most every minute).
async fn expire_names(shared: Arc<Shared>) {
    let ttl = shared.config.limits.anonymous_name_ttl;
    let every = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let live = |name: &str| shared.registry.get(name).is_some();
        match shared.queue.expire_anonymous(ttl, live).await {
            Ok(released) => {
                for name in released {
                    tracing::info!(%name, "anonymous name released: unused for {}", humantime::format_duration(ttl));
                }
            }
            Err(err) => tracing::warn!("{err:#}"),
        }
    }
}

async fn serve_connection<S>(shared: Arc<Shared>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = &shared.config.limits;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A request head must arrive within this of the connection opening or the previous
        // response, which also closes idle connections.
        .header_read_timeout(limits.header_timeout.min(limits.idle_timeout))
        .max_buf_size((limits.max_header * 2).max(64 * 1024));
    let service_shared = shared.clone();
    // The sender's X-Forwarded-For entry, made once per connection.
    let forwarded_for = crate::web::headers::forwarded_for(peer);
    let notes = sniff::Notes::default();
    let stream = sniff::Sniffed::new(stream, notes.clone());
    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let (shared, forwarded_for) = (service_shared.clone(), forwarded_for.clone());
        // hyper drops the Content-Length of a request that also has Transfer-Encoding.
        let both = notes.had_both(req.method().as_str());
        async move {
            if both {
                return Ok::<_, Infallible>(ingress::refuse_framing(&shared));
            }
            Ok(ingress::handle(shared, req, peer, forwarded_for).await)
        }
    });
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                debug!(%peer, %err, "connection ended with an error");
            }
        }
        _ = shared.shutdown.cancelled() => {}
    }
}
