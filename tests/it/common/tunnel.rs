//! Helpers for the tunnel tests: a relay, an agent and an echoing app, all on 127.0.0.1:0.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hooktap::capture::Target;
use hooktap::capture::{ForwardConfig, Forwarder};
use hooktap::relay::{Relay, RelayConfig};
use hooktap::store::{Location, Options, Store};
use hooktap::tunnel::{self, AgentConfig, ConnectError, Tunnel};
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the app saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: http::HeaderMap,
    /// The first MiB of the body.
    pub body: Vec<u8>,
    /// The body's full length.
    pub len: u64,
}

/// An app that echoes each request body back as it streams in, and reports what it saw.
/// `/slow…` waits two seconds before answering.
pub struct App {
    pub addr: SocketAddr,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    /// The path and query of each request, as soon as its head arrives.
    pub arrived: mpsc::UnboundedReceiver<String>,
}

pub async fn start_app() -> App {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            stream.set_nodelay(true).unwrap();
            let tx = tx.clone();
            let arrived_tx = arrived_tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    let _ = arrived_tx.send(req.uri().to_string());
                    async move {
                        if req.uri().path().starts_with("/slow") {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        let seen = Seen {
                            method: req.method().to_string(),
                            uri: req.uri().to_string(),
                            headers: req.headers().clone(),
                            body: Vec::new(),
                            len: 0,
                        };
                        let echo = Echo {
                            inner: req.into_body(),
                            seen: Some(seen),
                            tx,
                        };
                        let mut response = Response::new(echo);
                        response
                            .headers_mut()
                            .insert("x-app", "echo".parse().unwrap());
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    App {
        addr,
        seen,
        arrived,
    }
}

struct Echo {
    inner: Incoming,
    seen: Option<Seen>,
    tx: mpsc::UnboundedSender<Seen>,
}

impl HttpBody for Echo {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(seen)) = (frame.data_ref(), this.seen.as_mut()) {
                    seen.len += data.len() as u64;
                    let room = (1usize << 20).saturating_sub(seen.body.len());
                    seen.body.extend_from_slice(&data[..room.min(data.len())]);
                }
            }
            Poll::Ready(None) => {
                if let Some(seen) = this.seen.take() {
                    let _ = this.tx.send(seen);
                }
            }
            _ => {}
        }
        polled
    }
}

/// A relay running in the background.
pub struct RelayHandle {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
    /// The relay's live tunnels, as agents come and go.
    pub online: tokio::sync::watch::Receiver<usize>,
}

impl RelayHandle {
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits (bounded) until the relay counts `n` live tunnels: an event, not a poll.
    pub async fn until_online(&self, n: usize) {
        let mut online = self.online.clone();
        tokio::time::timeout(Duration::from_secs(10), online.wait_for(|live| *live == n))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {n} tunnels online"))
            .expect("the relay is running");
    }

    /// Connects an agent (token `t1`) for `name` once, so the relay knows the name, then
    /// takes it away: requests for `name` are then queued. The agent forwards to `app`.
    pub async fn known_then_offline(&self, app: SocketAddr, name: &str) {
        let store = memory_store();
        let agent = start_agent(
            agent_config(&self.url(), Some("t1"), Some(name)),
            forwarder(app, &store),
        )
        .await
        .unwrap();
        agent.stop().await;
        self.until_online(0).await;
    }

    /// Stops the relay and waits until it is gone.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the relay stops")
            .unwrap();
    }
}

pub async fn start_relay(addr: &str, config: RelayConfig) -> RelayHandle {
    let relay = Relay::bind(addr.parse().unwrap(), config).await.unwrap();
    let addr = relay.local_addr().unwrap();
    let online = relay.tunnels_online();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    RelayHandle {
        addr,
        shutdown,
        task,
        online,
    }
}

pub fn memory_store() -> Store {
    Store::open(Options {
        location: Location::Memory,
        retain: 10_000,
        retain_bytes: None,
        verdict: None,
    })
    .unwrap()
}

pub fn forwarder(app: SocketAddr, store: &Store) -> Forwarder {
    Forwarder::new(
        ForwardConfig {
            target: Target::parse(&format!("http://{app}")).unwrap(),
            timeout: Duration::from_secs(30),
            capture_limit: 1 << 20,
        },
        store.clone(),
    )
}

/// Agent settings with quick heartbeats and retries.
pub fn agent_config(relay: &str, token: Option<&str>, name: Option<&str>) -> AgentConfig {
    let mut config = AgentConfig::new(relay);
    config.token = token.map(hooktap::secret::Secret::verbatim);
    config.name = name.map(str::to_string);
    config.heartbeat = Duration::from_millis(500);
    config.backoff_min = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(300);
    config
}

pub struct AgentHandle {
    pub tunnel: Tunnel,
    pub shutdown: CancellationToken,
}

pub async fn start_agent(
    config: AgentConfig,
    forwarder: Forwarder,
) -> Result<AgentHandle, ConnectError> {
    let shutdown = CancellationToken::new();
    let tunnel = tunnel::start(config, forwarder, shutdown.clone()).await?;
    Ok(AgentHandle { tunnel, shutdown })
}

impl AgentHandle {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.tunnel.task)
            .await
            .expect("the agent stops")
            .unwrap();
    }
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Sends `body` to `url` and returns the status, headers and whole response body.
pub async fn post(
    client: &HttpClient,
    url: &str,
    body: impl Into<Bytes>,
) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let request = Request::post(url).body(Full::new(body.into())).unwrap();
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// Waits (bounded) until `check` holds, polling every 20 ms.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The relay's `tunnels_online` from `/_hooktap/health`.
pub async fn tunnels_online(client: &HttpClient, relay: &RelayHandle) -> u64 {
    let response = client
        .get(relay.http("/_hooktap/health").parse().unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    json["tunnels_online"].as_u64().unwrap()
}

/// A TCP proxy whose existing connections can be frozen (nothing passes, nothing closes).
pub struct Proxy {
    pub addr: SocketAddr,
    pub freeze: CancellationToken,
}

pub async fn start_proxy(upstream: SocketAddr) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let freeze = CancellationToken::new();
    let current = freeze.clone();
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else {
                return;
            };
            let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            // Connections made after a freeze pass normally.
            let freeze = if current.is_cancelled() {
                CancellationToken::new()
            } else {
                current.clone()
            };
            tokio::spawn(async move {
                let (mut a, mut b) = (inbound, outbound);
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                    _ = freeze.cancelled() => {
                        // Hold both sockets open and silent.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    Proxy { addr, freeze }
}
