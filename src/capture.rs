//! The local capture listener: an HTTP server on loopback whose every request is
//! forwarded to the app and recorded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span};

use crate::exchange::Source;
use crate::forward::{Forwarder, RequestMeta};
use crate::upstream::Upstream;

/// The capture listener, bound and ready to [`run`](CaptureServer::run).
pub struct CaptureServer {
    listener: TcpListener,
    forwarder: Forwarder,
}

impl CaptureServer {
    /// Binds `addr`; fails with a clear message when the port is taken.
    pub async fn bind(addr: SocketAddr, forwarder: Forwarder) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await.map_err(|err| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "the capture address {addr} is already in use: stop the other program or pass --capture-addr 127.0.0.1:0"
                )
            } else {
                anyhow::Error::new(err).context(format!("could not listen on {addr}"))
            }
        })?;
        Ok(Self {
            listener,
            forwarder,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the capture address")
    }

    /// Accepts connections until `shutdown` is cancelled, then lets in-flight ones finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // Out of file descriptors and the like: back off briefly, keep serving.
                        debug!(%err, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let forwarder = self.forwarder.clone();
            let shutdown = shutdown.clone();
            let upstream = Arc::new(Upstream::new());
            tracker.spawn(
                async move {
                    let service = service_fn(move |req| {
                        let forwarder = forwarder.clone();
                        let upstream = upstream.clone();
                        async move {
                            let mut meta = RequestMeta::new(Source::Local);
                            meta.peer = Some(peer);
                            meta.upstream = Some(upstream);
                            Ok::<_, Infallible>(forwarder.forward(req, meta).await)
                        }
                    });
                    // HTTP/1.1 only: webhook senders speak it, and it pairs each inbound
                    // connection with one connection to the app (see `upstream`).
                    let conn =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        result = conn.as_mut() => {
                            if let Err(err) = result {
                                debug!(%err, "connection ended with an error");
                            }
                        }
                        _ = shutdown.cancelled() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                }
                .instrument(info_span!("capture", %peer)),
            );
        }
        tracker.close();
        tracker.wait().await;
    }
}
