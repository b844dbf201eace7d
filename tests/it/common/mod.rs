//! Shared test helpers: a real app on 127.0.0.1:0 that reports what it received, a
//! capture server wired to an in-memory store, an HTTP client, and event waits.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hooktap::capture::CaptureServer;
use hooktap::capture::Target;
use hooktap::capture::{ForwardConfig, Forwarder};
use hooktap::exchange::Exchange;
use hooktap::store::{Location, Options, Store};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::{CancellationToken, DropGuard};

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("timed out waiting for an event")
}

/// What the app received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, when at most 1 MiB; larger bodies are only counted and hashed.
    pub body: Bytes,
    pub body_len: u64,
    pub body_sha256: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

/// A real HTTP app. Routes: `/slow` answers after 30 s; `/status/N` answers N; anything
/// else answers 201 with `x-app: yes`, two `x-resp` headers and a JSON body with the size.
pub struct App {
    pub addr: SocketAddr,
    pub received: mpsc::UnboundedReceiver<Received>,
    _guard: DropGuard,
}

impl App {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, received) = mpsc::unbounded_channel();
        let token = CancellationToken::new();
        let stop = token.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = stop.cancelled() => break,
                    a = listener.accept() => a.unwrap(),
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, tx.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            _guard: token.drop_guard(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next request the app got.
    pub async fn next(&mut self) -> Received {
        within(self.received.recv())
            .await
            .expect("app channel closed")
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    tx: mpsc::UnboundedSender<Received>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, mut body) = req.into_parts();
    let mut kept = Vec::new();
    let mut len = 0u64;
    let mut hash = Sha256::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            len += data.len() as u64;
            hash.update(data);
            if kept.len() + data.len() <= 1 << 20 {
                kept.extend_from_slice(data);
            }
        }
    }
    let path = parts.uri.path().to_string();
    let _ = tx.send(Received {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: if len <= 1 << 20 {
            Bytes::from(kept)
        } else {
            Bytes::new()
        },
        body_len: len,
        body_sha256: hex::encode(hash.finalize()),
    });
    if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let status = path
        .strip_prefix("/status/")
        .and_then(|s| s.parse().ok())
        .unwrap_or(201);
    Ok(Response::builder()
        .status(status)
        .header("x-app", "yes")
        .header("x-resp", "a")
        .header("x-resp", "b")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("{{\"received\":{len}}}"))))
        .unwrap())
}

/// A capture server forwarding to `target`, recording into an in-memory store.
pub struct Capture {
    pub addr: SocketAddr,
    pub store: Store,
    pub events: broadcast::Receiver<Arc<Exchange>>,
    /// Cancelling it shuts the server down (dropping the `Capture` does too).
    pub shutdown: CancellationToken,
    /// The server's `run`, which ends once its connections have finished.
    pub running: tokio::task::JoinHandle<()>,
    _guard: DropGuard,
}

impl Capture {
    pub async fn start(target: &str, timeout: Duration, capture_limit: usize) -> Self {
        let store = Store::open(Options {
            location: Location::Memory,
            retain: 10_000,
            retain_bytes: None,
            verdict: None,
        })
        .unwrap();
        let events = store.subscribe();
        let forwarder = Forwarder::new(
            ForwardConfig {
                target: Target::parse(target).unwrap(),
                timeout,
                capture_limit,
            },
            store.clone(),
        );
        let server = CaptureServer::bind("127.0.0.1:0".parse().unwrap(), forwarder)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(server.run(shutdown.clone()));
        Self {
            addr,
            store,
            events,
            _guard: shutdown.clone().drop_guard(),
            shutdown,
            running,
        }
    }

    /// The next recorded exchange.
    pub async fn next(&mut self) -> Arc<Exchange> {
        within(self.events.recv())
            .await
            .expect("store events closed")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A plain HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// Sends `req` and returns status, headers and the whole body.
pub async fn send(req: Request<Full<Bytes>>) -> (u16, http::HeaderMap, Bytes) {
    let response = within(client().request(req)).await.expect("request failed");
    let (parts, body) = response.into_parts();
    let body = within(body.collect()).await.unwrap().to_bytes();
    (parts.status.as_u16(), parts.headers, body)
}

pub mod cli;
pub mod gated;
pub mod procs;
pub mod replay;
pub mod sigvectors;
pub mod tmux;
pub mod tunnel;
