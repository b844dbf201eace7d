//! The local capture listener: an HTTP server on loopback whose every request is
//! forwarded to the app and recorded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use hyper::service::service_fn;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span};

use crate::capture::upstream::Upstream;
use crate::capture::{Forwarder, RequestMeta};
use crate::exchange::Source;

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
    ///
    /// Connections take turns between the caller's runtime and a second one on a thread of
    /// its own (when the machine has more than one core). Each connection stays on one
    /// thread, so nothing is stolen or shared per request, while the forwarding work can
    /// spread over both cores beside the app and the store's writer instead of queueing on
    /// one.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let finished = CancellationToken::new();
        let helper = second_runtime(finished.clone());
        // The second thread ends with this function, also when its future is dropped.
        let _finished = finished.drop_guard();
        let mut to_second = false;
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
            let (forwarder, shutdown) = (self.forwarder.clone(), shutdown.clone());
            to_second = !to_second;
            match helper.as_ref().filter(|_| to_second) {
                // A tokio stream belongs to the runtime that registered it: the other
                // runtime gets the socket and registers it itself.
                Some(helper) => match stream.into_std() {
                    Ok(socket) => {
                        helper.spawn(tracker.track_future(async move {
                            match TcpStream::from_std(socket) {
                                Ok(stream) => serve(stream, peer, forwarder, shutdown).await,
                                Err(err) => debug!(%err, "could not take over a connection"),
                            }
                        }));
                    }
                    Err(err) => debug!(%err, "could not hand over a connection"),
                },
                None => {
                    tracker.spawn(serve(stream, peer, forwarder, shutdown));
                }
            }
        }
        tracker.close();
        tracker.wait().await;
    }
}

/// A current-thread runtime on a thread of its own that runs until `finished` is
/// cancelled; `None` on a single core, where it would only add switches.
fn second_runtime(finished: CancellationToken) -> Option<Handle> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            debug!(%err, "no second capture runtime");
            return None;
        }
    };
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("hooktap-capture".into())
        .spawn(move || runtime.block_on(finished.cancelled()))
        .map_err(|err| debug!(%err, "no second capture thread"))
        .ok()?;
    Some(handle)
}

/// Serves one sender's connection until it closes or `shutdown` asks it to finish.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    forwarder: Forwarder,
    shutdown: CancellationToken,
) {
    let upstream = Arc::new(Upstream::new());
    let forwarded_for = crate::web::headers::forwarded_for(peer);
    let service = service_fn(move |req| {
        let forwarder = forwarder.clone();
        let mut meta = RequestMeta::new(Source::Local);
        meta.forwarded_for = forwarded_for.clone();
        meta.upstream = Some(upstream.clone());
        async move { Ok::<_, Infallible>(forwarder.forward(req, meta).await) }
    });
    // HTTP/1.1 only: webhook senders speak it, and it pairs each inbound connection with
    // one connection to the app (see `upstream`).
    crate::web::serve::http1_until_shutdown(stream, service, &shutdown, "capture")
        .instrument(info_span!("capture", %peer))
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::capture::ForwardConfig;
    use crate::capture::Target;
    use crate::store::{Location, Options, Store};

    /// How many threads of this process carry `name`.
    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|comm| comm.trim_end() == name)
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// Polls `check` every few milliseconds for at most five seconds.
    async fn eventually(check: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn the_second_thread_ends_when_the_server_is_dropped_without_a_shutdown() {
        if !cfg!(target_os = "linux")
            || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2
        {
            return; // No second thread to see.
        }
        let store = Store::open(Options {
            location: Location::Memory,
            retain: 10,
            retain_bytes: None,
            verdict: None,
        })
        .unwrap();
        let forwarder = Forwarder::new(
            ForwardConfig {
                target: Target::parse("9").unwrap(),
                timeout: Duration::from_secs(1),
                capture_limit: 1024,
            },
            store,
        );
        let server = CaptureServer::bind("127.0.0.1:0".parse().unwrap(), forwarder)
            .await
            .unwrap();
        let running = tokio::spawn(server.run(CancellationToken::new()));
        assert!(eventually(|| threads_named("hooktap-capture") == 1).await);
        running.abort();
        let _ = running.await;
        assert!(
            eventually(|| threads_named("hooktap-capture") == 0).await,
            "the second capture thread outlived its server"
        );
    }
}
