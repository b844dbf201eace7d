//! The agent: dials the relay, says hello, then serves HTTP/2 over the WebSocket, handing
//! each request to the [`Forwarder`]; reconnects with backoff when the tunnel drops.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dial::{BoxIo, Dialer};
use super::protocol::{self as proto, AgentHello, RelayAnswer, RelayRefusal, RelayWelcome};
use super::wsio::WsIo;

/// The agent's end of an open WebSocket.
type Ws = WsIo<BoxIo>;
use crate::capture::{Forwarder, RequestMeta};
use crate::exchange::Source;

/// How the agent reaches its relay.
#[derive(Clone)]
pub struct AgentConfig {
    /// The relay's URL (`ws://`, `wss://`).
    pub relay: String,
    /// The bearer token, if the relay wants one.
    pub token: Option<crate::secret::Secret>,
    /// The tunnel name to ask for.
    pub name: Option<String>,
    /// A PEM file with the CA to trust instead of the system roots.
    pub relay_ca: Option<PathBuf>,
    /// How long dialling plus the handshake may take.
    pub handshake_timeout: Duration,
    /// Interval between heartbeats; a tunnel silent for twice this long is dead.
    pub heartbeat: Duration,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token never appears in logs or panics.
        f.debug_struct("AgentConfig")
            .field("relay", &self.relay)
            .field("token", &self.token)
            .field("name", &self.name)
            .field("relay_ca", &self.relay_ca)
            .finish_non_exhaustive()
    }
}

impl AgentConfig {
    /// A config with the default timings.
    pub fn new(relay: impl Into<String>) -> Self {
        Self {
            relay: relay.into(),
            token: None,
            name: None,
            relay_ca: None,
            handshake_timeout: proto::DEFAULT_HANDSHAKE_TIMEOUT,
            heartbeat: proto::DEFAULT_HEARTBEAT,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// A change in the tunnel's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelEvent {
    /// Connected (again); requests to `public_url` reach the app.
    Online {
        /// The tunnel's name.
        name: String,
        /// The preferred public URL.
        public_url: String,
        /// Every public URL that reaches the tunnel, the preferred one first.
        public_urls: Vec<String>,
        /// Requests the relay queued meanwhile and is delivering now.
        queued: u64,
    },
    /// The tunnel dropped.
    Offline {
        /// Why, in a few words.
        reason: String,
    },
    /// About to try again.
    Reconnecting {
        /// 1 for the first retry.
        attempt: u32,
        /// Wait before this attempt.
        delay: Duration,
    },
    /// The relay refused to take the tunnel back; the agent stopped.
    Refused(String),
    /// A newer agent with the same token took the name; the agent stopped and does not
    /// reconnect. Carries [`proto::REPLACED_MESSAGE`].
    Replaced(String),
}

/// How one tunnel connection ended.
enum Ended {
    /// Dropped, for this reason: reconnect.
    Dropped(String),
    /// The relay said a newer agent took the name: stop.
    Replaced,
    /// The agent is shutting down.
    Shutdown,
}

/// Why the agent could not open a tunnel.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The relay said no; retrying would not help.
    #[error("the relay refused the tunnel: {}", .0.message)]
    Refused(RelayRefusal),
    /// The relay could not be reached or the handshake failed.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

/// An open tunnel, kept up by a background task.
pub struct Tunnel {
    /// The relay's welcome on the first connection.
    pub welcome: RelayWelcome,
    /// State changes after the first connection.
    pub events: mpsc::UnboundedReceiver<TunnelEvent>,
    /// The task serving the tunnel; ends on shutdown or refusal.
    pub task: tokio::task::JoinHandle<()>,
}

/// Connects to the relay and keeps the tunnel up until `shutdown`.
///
/// The first connection must succeed: a wrong URL or token is reported at once rather
/// than retried silently. After that, drops are retried with backoff.
pub async fn start(
    config: AgentConfig,
    forwarder: Forwarder,
    shutdown: CancellationToken,
) -> Result<Tunnel, ConnectError> {
    let dialer = Dialer::new(
        &config.relay,
        config.relay_ca.as_deref(),
        config.handshake_timeout,
    )?;
    let mut agent = Agent {
        config,
        dialer,
        forwarder,
        resume_key: None,
        deliveries: Default::default(),
    };
    let (ws, welcome) = agent.connect().await?;
    let (tx, events) = mpsc::unbounded_channel();
    let task = tokio::spawn(agent.run(ws, tx, shutdown));
    Ok(Tunnel {
        welcome,
        events,
        task,
    })
}

struct Agent {
    config: AgentConfig,
    dialer: Dialer,
    forwarder: Forwarder,
    resume_key: Option<String>,
    /// Queued deliveries in progress, across reconnects.
    deliveries: super::queued::Deliveries,
}

impl Agent {
    async fn connect(&mut self) -> Result<(Ws, RelayWelcome), ConnectError> {
        let mut ws = self
            .dialer
            .dial(self.config.token.as_ref().map(|t| t.expose()))
            .await?;
        let hello = AgentHello {
            version: proto::PROTOCOL_VERSION,
            name: self.config.name.clone(),
            resume_key: self.resume_key.clone(),
            agent: format!("hooktap/{}", env!("CARGO_PKG_VERSION")),
        };
        let answer = tokio::time::timeout(self.config.handshake_timeout, async {
            ws.send_text(&proto::encode(&hello)).await?;
            match ws.recv_text(proto::MAX_HANDSHAKE_BYTES).await? {
                Some(text) => Ok(proto::decode::<RelayAnswer>(&text)?),
                None => anyhow::bail!("the relay closed the connection during the handshake"),
            }
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the relay at {} did not finish the handshake in time",
                self.dialer.url()
            )
        })??;
        match answer {
            RelayAnswer::Welcome(welcome) => {
                // Keep the name across reconnects, random ones included.
                self.config.name = Some(welcome.name.clone());
                if welcome.resume_key.is_some() {
                    self.resume_key = welcome.resume_key.clone();
                }
                Ok((ws, welcome))
            }
            RelayAnswer::Refusal(refusal) => Err(ConnectError::Refused(refusal)),
        }
    }

    async fn run(
        mut self,
        mut ws: Ws,
        events: mpsc::UnboundedSender<TunnelEvent>,
        shutdown: CancellationToken,
    ) {
        loop {
            let reason = match self.serve(ws, &shutdown).await {
                _ if shutdown.is_cancelled() => return,
                Ended::Shutdown => return,
                Ended::Replaced => {
                    let _ = events.send(TunnelEvent::Replaced(proto::REPLACED_MESSAGE.into()));
                    return;
                }
                Ended::Dropped(reason) => reason,
            };
            let _ = events.send(TunnelEvent::Offline { reason });
            let mut attempt = 0u32;
            ws = loop {
                attempt = attempt.saturating_add(1);
                let delay = backoff(attempt, self.config.backoff_min, self.config.backoff_max);
                let _ = events.send(TunnelEvent::Reconnecting { attempt, delay });
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                let connected = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    connected = self.connect() => connected,
                };
                match connected {
                    Ok((ws, welcome)) => {
                        let _ = events.send(TunnelEvent::Online {
                            name: welcome.name,
                            public_url: welcome.public_urls.first().cloned().unwrap_or_default(),
                            public_urls: welcome.public_urls,
                            queued: welcome.queued,
                        });
                        break ws;
                    }
                    Err(ConnectError::Refused(refusal))
                        if refusal.reason == proto::RefusalReason::PeerLimit =>
                    {
                        tracing::debug!("reconnect attempt {attempt} refused: {}", refusal.message);
                    }
                    Err(ConnectError::Refused(refusal)) => {
                        let _ = events.send(TunnelEvent::Refused(refusal.message));
                        return;
                    }
                    Err(ConnectError::Failed(err)) => {
                        tracing::debug!("reconnect attempt {attempt} failed: {err:#}");
                    }
                }
            };
        }
    }

    /// Serves h2 over the tunnel until it ends; returns how it ended.
    async fn serve(&self, ws: Ws, shutdown: &CancellationToken) -> Ended {
        let forwarder = self.forwarder.clone();
        let deliveries = self.deliveries.clone();
        let replaced = CancellationToken::new();
        let told = replaced.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let forwarder = forwarder.clone();
            let deliveries = deliveries.clone();
            let told = told.clone();
            async move {
                if let Some(control) = req.headers().get(proto::HEADER_CONTROL) {
                    if control == proto::CONTROL_REPLACED {
                        told.cancel();
                    }
                    return Ok::<_, Infallible>(http::Response::new(
                        crate::web::body::BoxBody::default(),
                    ));
                }
                Ok::<_, Infallible>(handle(&forwarder, &deliveries, req).await)
            }
        });
        let heartbeat = self.config.heartbeat;
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_frame_size(proto::H2_MAX_FRAME)
            .initial_stream_window_size(proto::H2_STREAM_WINDOW)
            .initial_connection_window_size(proto::H2_CONNECTION_WINDOW)
            .adaptive_window(false)
            .max_concurrent_streams(4096)
            .max_send_buf_size(proto::H2_MAX_FRAME as usize)
            .keep_alive_interval(heartbeat)
            .keep_alive_timeout(heartbeat * 2)
            .serve_connection(TokioIo::new(ws), service);
        tokio::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            _ = shutdown.cancelled() => {
                // Requests in flight finish (their answers reach the senders) and are
                // recorded before the tunnel closes; an idle tunnel, or a relay that
                // stopped answering, does not hold the exit up. A graceful h2 shutdown
                // started while a stream still waited for the app cut that stream (the
                // sender got a 502), so the GOAWAY goes out only once nothing is in flight.
                let finished = async {
                    tokio::select! {
                        _ = conn.as_mut() => return,
                        _ = self.forwarder.idle() => {}
                    }
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                };
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, finished).await;
                return Ended::Shutdown;
            }
            _ = replaced.cancelled() => {
                // Let the answer to the relay go out; the relay closes the tunnel then.
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.as_mut()).await;
                return Ended::Replaced;
            }
        };
        if replaced.is_cancelled() {
            return Ended::Replaced;
        }
        Ended::Dropped(match result {
            Ok(()) => "the relay closed the tunnel".into(),
            Err(err) if err.is_timeout() => "no heartbeat from the relay".into(),
            Err(err) => format!("the tunnel failed: {err}"),
        })
    }
}

/// How long shutdown waits for the tunnel's requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Turns a tunnelled request back into what the sender sent and forwards it (a queued
/// one through [`super::queued::deliver`]).
async fn handle(
    forwarder: &Forwarder,
    deliveries: &super::queued::Deliveries,
    mut req: Request<Incoming>,
) -> http::Response<crate::web::body::BoxBody> {
    let headers = req.headers_mut();
    let text =
        |value: Option<http::HeaderValue>| value.and_then(|v| v.to_str().ok().map(str::to_string));
    let public_url = text(headers.remove(proto::HEADER_PUBLIC_URL));
    let queued_at =
        text(headers.remove(proto::HEADER_QUEUED_AT)).and_then(|v| v.parse::<i64>().ok());
    let queued_id = text(headers.remove(proto::HEADER_QUEUED_ID));
    let version = text(headers.remove(proto::HEADER_HTTP_VERSION));
    for name in proto::INTERNAL_HEADERS {
        headers.remove(name);
    }
    *req.version_mut() = match version.as_deref() {
        Some("HTTP/1.0") => http::Version::HTTP_10,
        Some("HTTP/2.0") => http::Version::HTTP_2,
        _ => http::Version::HTTP_11,
    };
    let mut meta = RequestMeta::new(if queued_at.is_some() {
        Source::Queued
    } else {
        Source::Relay
    });
    meta.public_url = public_url;
    meta.received_at_us = queued_at;
    match queued_id.filter(|_| queued_at.is_some()) {
        Some(queued_id) => {
            super::queued::deliver(forwarder, deliveries, req, meta, queued_id).await
        }
        None => forwarder.forward(req, meta).await,
    }
}

/// Exponential backoff with jitter: attempt 1 waits about `min`, doubling up to `max`;
/// each wait is drawn from its upper half so agents that dropped together spread out.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let exp = min.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let cap = exp.min(max).max(Duration::from_millis(1));
    let half = cap / 2;
    half + cap
        .saturating_sub(half)
        .mul_f64(rand::random_range(0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        let first = backoff(1, min, max);
        assert!(first >= Duration::from_millis(50) && first <= min);
        let fourth = backoff(4, min, max);
        assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800));
        for attempt in [10, 100, u32::MAX] {
            let capped = backoff(attempt, min, max);
            assert!(capped >= Duration::from_secs(1) && capped <= max);
        }
    }
}
