//! The relay's end of a tunnel: the WebSocket upgrade, the hello/welcome handshake, the
//! HTTP/2 client over the WebSocket, and delivery of the queue when an agent comes back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::{RwLock, Semaphore};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::Shared;
use super::admit::{admit, refusal};
use super::auth;
use super::delivery::{deliver_queue, kick};
use super::peers::Peer;
use super::registry::Session;
use crate::tunnel::protocol::{
    self as proto, AgentHello, RefusalReason, RelayAnswer, RelayRefusal, RelayWelcome,
};
use crate::tunnel::wsio::{Role, WsIo};
use crate::web::body::BoxBody;
use crate::web::error_response;

/// Why an upgrade request is not a WebSocket handshake the relay takes (RFC 6455 §4.2.1).
fn check_upgrade(req: &Request<Incoming>) -> Result<HeaderValue, Box<Response<BoxBody>>> {
    let headers = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    let is_upgrade = req.method() == http::Method::GET
        && req.version() == http::Version::HTTP_11
        && has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade");
    if !is_upgrade {
        return Err(Box::new(error_response(
            StatusCode::BAD_REQUEST,
            "this is the tunnel endpoint; connect to it with `hooktap listen --relay URL`",
        )));
    }
    let version = headers.get(header::SEC_WEBSOCKET_VERSION);
    if version.is_none_or(|v| v.as_bytes() != b"13") {
        let mut response = error_response(
            StatusCode::UPGRADE_REQUIRED,
            "the tunnel endpoint speaks WebSocket version 13 only",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(Box::new(response));
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) => key,
        _ => {
            return Err(Box::new(error_response(
                StatusCode::BAD_REQUEST,
                "the WebSocket handshake needs one Sec-WebSocket-Key",
            )));
        }
    };
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.as_bytes());
    if !decoded.is_ok_and(|k| k.len() == 16) {
        return Err(Box::new(error_response(
            StatusCode::BAD_REQUEST,
            "the Sec-WebSocket-Key must be 16 bytes in base64",
        )));
    }
    Ok(key.clone())
}

/// Answers a request to the tunnel path: `101` and the handshake in the background; `400`
/// (or `426` for another WebSocket version) when it is not a valid WebSocket upgrade;
/// `429` when its address made too many handshakes in the last minute.
pub fn upgrade(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<BoxBody> {
    let limit = shared.config.limits.max_handshakes_per_minute;
    if !shared.handshakes.allow(Peer::of(peer.ip()), limit) {
        info!(%peer, "tunnel refused: too many handshakes from this address");
        shared.metrics.peer_limited.fetch_add(1, Ordering::Relaxed);
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "this address opened more than {limit} tunnel handshakes in the last minute; retry in a minute"
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    let key = match check_upgrade(&req) {
        Ok(key) => key,
        Err(response) => return *response,
    };
    let headers = req.headers();
    let bearer = auth::bearer(headers).map(str::to_string);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let tunnels = shared.tunnels.clone();
    tunnels.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WsIo::new(TokioIo::new(upgraded), Role::Server);
                accept(shared, ws, bearer, host, peer).await;
            }
            Err(err) => debug!(%peer, %err, "tunnel upgrade failed"),
        }
    });
    let mut response = Response::new(BoxBody::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}
async fn accept<S>(
    shared: Arc<Shared>,
    mut ws: WsIo<S>,
    bearer: Option<String>,
    host: Option<String>,
    peer: SocketAddr,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let deadline = shared.config.limits.handshake_timeout;
    let hello = match tokio::time::timeout(deadline, read_hello(&mut ws)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(err)) => {
            let refusal = refusal(
                RefusalReason::BadHello,
                format!(
                    "the relay could not read the agent's hello ({err}): use the same hooktap version on both sides"
                ),
            );
            refuse(&shared, ws, refusal, peer).await;
            return;
        }
        Err(_) => {
            info!(%peer, "tunnel refused: the agent did not say hello in time");
            return;
        }
    };
    let admission = match admit(&shared, &hello, bearer.as_deref(), Peer::of(peer.ip())).await {
        Ok(admission) => admission,
        Err(refusal) => {
            refuse(&shared, ws, refusal, peer).await;
            return;
        }
    };
    let welcome = RelayWelcome {
        version: proto::PROTOCOL_VERSION,
        name: admission.name.clone(),
        public_urls: public_urls(&shared, &admission.name, host.as_deref()),
        resume_key: admission.resume_key.clone(),
        queued: admission.queued,
    };
    let welcomed = tokio::time::timeout(
        deadline,
        ws.send_text(&proto::encode(&RelayAnswer::Welcome(welcome))),
    )
    .await;
    if !matches!(welcomed, Ok(Ok(()))) {
        debug!(%peer, "the agent left during the handshake");
        return;
    }
    let heartbeat = shared.config.heartbeat;
    let handshake = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_frame_size(proto::H2_MAX_FRAME)
        .initial_stream_window_size(proto::H2_STREAM_WINDOW)
        .initial_connection_window_size(proto::H2_CONNECTION_WINDOW)
        .adaptive_window(false)
        .max_send_buf_size(proto::H2_MAX_FRAME as usize)
        .keep_alive_interval(heartbeat)
        .keep_alive_timeout(heartbeat * 2)
        .keep_alive_while_idle(true)
        .handshake::<_, BoxBody>(TokioIo::new(ws))
        .await;
    let (sender, conn) = match handshake {
        Ok(pair) => pair,
        Err(err) => {
            debug!(%peer, %err, "h2 handshake over the tunnel failed");
            return;
        }
    };
    let session = Arc::new(Session {
        id: shared.registry.next_id(),
        name: admission.name.clone(),
        owner: admission.owner,
        sender,
        in_flight: Arc::new(Semaphore::new(shared.config.limits.max_in_flight)),
        peers: Arc::default(),
        closed: CancellationToken::new(),
        replaced: AtomicBool::new(false),
        draining: AtomicBool::new(admission.queued > 0),
        queue_gate: RwLock::new(()),
    });
    if shared.registry.claim(session.clone()).is_err() {
        // Another token took the name between the check and now; the agent will be
        // refused when it reconnects.
        info!(name = %session.name, %peer, "tunnel refused: another token took the name meanwhile");
        return;
    }
    shared
        .metrics
        .tunnels_opened
        .fetch_add(1, Ordering::Relaxed);
    info!(
        name = %session.name,
        %peer,
        agent = ?hello.agent,
        queued = admission.queued,
        "agent connected"
    );
    if admission.queued > 0 {
        tokio::spawn(deliver_queue(shared.clone(), session.clone()));
    } else if matches!(shared.queue.pending(&session.name).await, Ok(n) if n > 0) {
        // Queued between the admission's look at the queue and now.
        kick(shared.clone(), session.clone()).await;
    }
    tokio::pin!(conn);
    let (why, conn_open) = tokio::select! {
        result = conn.as_mut() => (match result {
            Ok(()) => "the agent closed the tunnel".to_string(),
            Err(err) if err.is_timeout() => "no heartbeat from the agent".to_string(),
            Err(err) => format!("the tunnel failed: {err}"),
        }, false),
        _ = session.closed.cancelled() => (String::new(), true),
        _ = shared.shutdown.cancelled() => (String::new(), true),
    };
    session.closed.cancel();
    let replaced = conn_open && session.replaced.load(Ordering::Acquire);
    let why = match (replaced, conn_open) {
        (true, _) => "replaced by a newer agent with the same token".to_string(),
        (false, true) => "the relay is stopping".to_string(),
        (false, false) => why,
    };
    info!(name = %session.name, %peer, why = ?why, "agent disconnected");
    if replaced {
        let deadline = shared.config.limits.handshake_timeout;
        let _ = tokio::time::timeout(deadline, async {
            tokio::select! {
                _ = tell_replaced(&session) => {}
                _ = conn.as_mut() => {}
                _ = shared.shutdown.cancelled() => {}
            }
        })
        .await;
    }
    if shared.registry.remove(&session.name, session.id) {
        // An anonymous name expires counting from when its agent left.
        if let Err(err) = shared.queue.touch(&session.name).await {
            debug!("{err:#}");
        }
    }
    // The address's share of anonymous tunnels comes back now.
    drop(admission.peer_slot);
}

/// Tells the agent of a replaced session why its tunnel closes, so it stops instead of
/// reconnecting and taking the name back. The caller bounds it and keeps the connection
/// polled meanwhile; a stale session's agent is gone and never answers.
async fn tell_replaced(session: &Session) {
    let request = Request::post(format!(
        "http://{}.tunnel{}",
        session.name,
        proto::CONTROL_PATH
    ))
    .version(http::Version::HTTP_2)
    .header(proto::HEADER_CONTROL, proto::CONTROL_REPLACED)
    .body(BoxBody::default());
    if let Ok(request) = request {
        let _ = session.sender.clone().send_request(request).await;
    }
}

async fn read_hello<S>(ws: &mut WsIo<S>) -> anyhow::Result<AgentHello>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match ws.recv_text(proto::MAX_HANDSHAKE_BYTES).await? {
        Some(text) => Ok(proto::decode(&text)?),
        None => anyhow::bail!("the agent closed the connection"),
    }
}

async fn refuse<S>(shared: &Shared, mut ws: WsIo<S>, refusal: RelayRefusal, peer: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    shared
        .metrics
        .tunnels_refused
        .fetch_add(1, Ordering::Relaxed);
    // The message names the fix, never the token.
    info!(%peer, reason = %refusal.reason.as_str(), message = ?refusal.message, "tunnel refused");
    let deadline = shared.config.limits.handshake_timeout;
    let _ = tokio::time::timeout(deadline, async {
        ws.send_text(&proto::encode(&RelayAnswer::Refusal(refusal)))
            .await?;
        ws.send_close().await
    })
    .await;
}

/// The URLs that reach `name`, the preferred one first.
fn public_urls(shared: &Shared, name: &str, host: Option<&str>) -> Vec<String> {
    let base = match &shared.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("{}://{}", shared.scheme, host.unwrap_or("localhost")),
    };
    let mut urls = Vec::new();
    if let Some(domain) = &shared.config.domain {
        let port = base
            .rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
            .map(|(_, p)| format!(":{p}"))
            .unwrap_or_default();
        urls.push(format!("{}://{name}.{domain}{port}", shared.scheme));
    }
    urls.push(format!("{base}/t/{name}"));
    urls
}
/// A plain body of bytes, for the relay's own answers.
pub fn text_body(text: impl Into<Bytes>) -> BoxBody {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
