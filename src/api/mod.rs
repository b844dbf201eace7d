//! The local HTTP API (DESIGN §7, docs/api.md): list, read, replay and clear recorded
//! requests as JSON, on loopback unless a token guards it. This file binds and serves;
//! [`routes`] answers, [`access`] decides who may ask.

mod access;
mod reply;
mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::capture::Forwarder;
use crate::replay::{Resign, resign_with};
use crate::secret::Secret;
use crate::signature::Verifier;
use crate::store::Store;
use crate::usage::UsageError;

/// The API's address when `--api-addr` is not given.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4748);
/// Largest request body the API reads.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Listing size when `?limit=` is absent, and the most one listing returns.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

/// Where the API listens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApiAddr {
    /// [`DEFAULT_ADDR`]; when it is taken the API is off, with a warning (the capture
    /// matters more than the API).
    #[default]
    Default,
    /// This address; failing to bind it is an error.
    At(SocketAddr),
    /// No API.
    Off,
}

/// The API of a `listen` session.
#[derive(Clone, Debug, Default)]
pub struct ApiConfig {
    /// Where.
    pub addr: ApiAddr,
    /// Allow an address other than loopback (needs `token`).
    pub allow_remote: bool,
    /// The bearer token every request must carry.
    pub token: Option<Secret>,
}

/// The API listener, bound and ready to [`run`](ApiServer::run).
pub struct ApiServer {
    listener: TcpListener,
    state: Arc<State>,
}

struct State {
    /// The address bound: its origin is the only one a browser may call from.
    addr: SocketAddr,
    /// Where the requests are read and cleared.
    store: Store,
    /// Where replays go (and are recorded).
    forwarder: Forwarder,
    token: Option<Secret>,
    loopback: bool,
    resign: Option<Resign>,
}

impl ApiServer {
    /// Binds `addr`. A non-loopback address needs `allow_remote` and a token.
    pub async fn bind(
        addr: SocketAddr,
        forwarder: Forwarder,
        allow_remote: bool,
        token: Option<Secret>,
    ) -> anyhow::Result<Self> {
        let loopback = addr.ip().is_loopback();
        let remote_allowed = allow_remote && token.is_some();
        if !loopback && allow_remote && token.is_none() {
            return Err(UsageError(format!(
                "the API address {addr} is not on loopback, so it needs a token: pass --api-token TOKEN (or set HOOKTAP_API_TOKEN)"
            ))
            .into());
        }
        if !loopback && !remote_allowed {
            return Err(UsageError(format!(
                "the API address {addr} is not on loopback, so anyone who reaches it could read and replay your requests: pass --api-allow-remote and --api-token TOKEN, or use 127.0.0.1"
            ))
            .into());
        }
        let listener = TcpListener::bind(addr).await.map_err(|err| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "the API address {addr} is already in use: stop the other program or pass --api-addr 127.0.0.1:0"
                )
            } else {
                anyhow::Error::new(err).context(format!("could not listen on {addr}"))
            }
        })?;
        let addr = listener.local_addr().context("reading the API address")?;
        Ok(Self {
            listener,
            state: Arc::new(State {
                addr,
                store: forwarder.store().clone(),
                forwarder,
                token,
                loopback,
                resign: None,
            }),
        })
    }

    /// Lets `"resign": true` replays re-sign with `verifier`'s secrets.
    pub fn with_verifier(mut self, verifier: Verifier) -> Self {
        if verifier.configured().next().is_some()
            && let Some(state) = Arc::get_mut(&mut self.state)
        {
            state.resign = Some(resign_with(verifier));
        }
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the API address")
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        loop {
            let (stream, _peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        debug!(%err, "API accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let state = self.state.clone();
            let shutdown = shutdown.clone();
            tracker.spawn(async move {
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(routes::handle(&state, req).await) }
                });
                crate::web::serve::http1_until_shutdown(stream, service, &shutdown, "API").await;
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}

/// Binds the API as `config` says: `None` when it is off, or when the default address is
/// taken (a warning says so; the capture matters more than the API).
pub async fn bind_for_listen(
    config: &ApiConfig,
    forwarder: Forwarder,
    verifier: Verifier,
) -> anyhow::Result<Option<ApiServer>> {
    let (addr, explicit) = match config.addr {
        ApiAddr::Off => return Ok(None),
        ApiAddr::Default => (DEFAULT_ADDR, false),
        ApiAddr::At(addr) => (addr, true),
    };
    match ApiServer::bind(addr, forwarder, config.allow_remote, config.token.clone()).await {
        Ok(server) => Ok(Some(server.with_verifier(verifier))),
        Err(err) if !explicit && err.downcast_ref::<UsageError>().is_none() => {
            eprintln!("hooktap: the local API is off: {err:#}");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}
