//! The local HTTP API (DESIGN §7, docs/api.md): list, read, replay and clear recorded
//! requests as JSON, on loopback unless a token guards it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::cli_replay::{ApiArgs, ApiToken};
use crate::cmd::UsageError;
use crate::forward::Forwarder;
use crate::output::exchange_json;
use crate::replay::{ReplayError, ReplayOptions, Resign, replay_one, resign_with};
use crate::signature::Verifier;
use crate::store::{Filter, LookupError};
use crate::target::Target;

/// The API's address when `--api-addr` is not given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4748";
/// Largest request body the API reads.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Listing size when `?limit=` is absent, and the most one listing returns.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

/// The API listener, bound and ready to [`run`](ApiServer::run).
pub struct ApiServer {
    listener: TcpListener,
    state: Arc<State>,
}

struct State {
    forwarder: Forwarder,
    token: Option<ApiToken>,
    loopback: bool,
    resign: Option<Resign>,
}

impl ApiServer {
    /// Binds `addr`. A non-loopback address needs `allow_remote` and a token.
    pub async fn bind(
        addr: SocketAddr,
        forwarder: Forwarder,
        allow_remote: bool,
        token: Option<ApiToken>,
    ) -> anyhow::Result<Self> {
        let loopback = addr.ip().is_loopback();
        let remote_allowed = allow_remote && token.is_some();
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
        Ok(Self {
            listener,
            state: Arc::new(State {
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
                    async move { Ok::<_, Infallible>(handle(&state, req).await) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(err) = result {
                            debug!(%err, "API connection ended with an error");
                        }
                    }
                    _ = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}

/// Binds the API as `listen`'s flags say: `None` when it is off, or when the default
/// address is taken (a warning says so; the capture matters more than the API).
pub async fn bind_for_listen(
    args: &ApiArgs,
    forwarder: Forwarder,
    verifier: Verifier,
) -> anyhow::Result<Option<ApiServer>> {
    let explicit = args.api_addr.is_some();
    let text = args.api_addr.as_deref().unwrap_or(DEFAULT_ADDR).trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr: SocketAddr = text.parse().map_err(|_| {
        UsageError(format!(
            "--api-addr '{text}' is not an address: use e.g. 127.0.0.1:4748, or off"
        ))
    })?;
    match ApiServer::bind(
        addr,
        forwarder,
        args.api_allow_remote,
        args.api_token.clone(),
    )
    .await
    {
        Ok(server) => Ok(Some(server.with_verifier(verifier))),
        Err(err) if !explicit && err.downcast_ref::<UsageError>().is_none() => {
            eprintln!("hooktap: the local API is off: {err:#}");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    json_response(status, &json!({ "error": message.into() }))
}

fn is_loopback_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests a web page could have made: a browser names its page's origin, and
/// DNS rebinding shows up as a foreign `Host` on a loopback listener.
fn check_access(state: &State, req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    if let Some(token) = &state.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token.0.as_bytes())) {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API token: send Authorization: Bearer <token>",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return Some(response);
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map_or("", |(_, rest)| rest);
        if !is_loopback_host(host) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "requests from web pages are refused",
            ));
        }
    }
    if state.loopback && state.token.is_none() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_loopback_host(host) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "the Host header must name this machine (127.0.0.1 or localhost)",
            ));
        }
    }
    None
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(refusal) = check_access(state, &req) {
        return refusal;
    }
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match (req.method().clone(), segments.as_slice()) {
        (Method::GET, ["api", "requests"]) => list(state, req.uri().query().unwrap_or("")),
        (Method::DELETE, ["api", "requests"]) => clear(state).await,
        (Method::GET, ["api", "requests", id]) => get(state, id),
        (Method::POST, ["api", "requests", id, "replay"]) => {
            let id = id.to_string();
            replay(state, &id, req).await
        }
        (_, ["api", "requests"]) => not_allowed("GET, DELETE"),
        (_, ["api", "requests", _]) => not_allowed("GET"),
        (_, ["api", "requests", _, "replay"]) => not_allowed("POST"),
        _ => error(
            StatusCode::NOT_FOUND,
            "no such route: the API is described in docs/api.md",
        ),
    }
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this route takes {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

fn list(state: &State, query: &str) -> Response<Full<Bytes>> {
    let mut filter = Filter {
        limit: Some(DEFAULT_LIMIT),
        ..Filter::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "limit" => match value.parse::<usize>() {
                Ok(n) if n > 0 => filter.limit = Some(n.min(MAX_LIMIT)),
                _ => return error(StatusCode::BAD_REQUEST, "limit must be a positive number"),
            },
            "failed" => match value {
                "true" | "1" | "" => filter.failed = true,
                "false" | "0" => filter.failed = false,
                _ => return error(StatusCode::BAD_REQUEST, "failed must be true or false"),
            },
            "path" => filter.path = Some(crate::export::har::percent_decode(value)),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter '{key}': use limit, failed or path"),
                );
            }
        }
    }
    match state.forwarder.store().list(&filter) {
        Ok(rows) => json_response(StatusCode::OK, &json!(rows)),
        Err(err) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not read the store: {err:#}"),
        ),
    }
}

fn lookup_failure(err: LookupError) -> Response<Full<Bytes>> {
    let status = match &err {
        LookupError::NotFound(_) => StatusCode::NOT_FOUND,
        LookupError::Ambiguous(..) | LookupError::Malformed(_) => StatusCode::BAD_REQUEST,
        LookupError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, err.to_string())
}

fn get(state: &State, id: &str) -> Response<Full<Bytes>> {
    match state.forwarder.store().get(id) {
        Ok(ex) => json_response(StatusCode::OK, &exchange_json(&ex)),
        Err(err) => lookup_failure(err),
    }
}

async fn clear(state: &State) -> Response<Full<Bytes>> {
    match state.forwarder.store().clear().await {
        Ok(()) => json_response(StatusCode::OK, &json!({ "cleared": true })),
        Err(err) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not clear the store: {err:#}"),
        ),
    }
}

/// `POST /api/requests/{id}/replay` body; both fields optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    to: Option<String>,
    #[serde(default)]
    resign: bool,
}

async fn replay(state: &State, id: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let bytes = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over 64 KiB",
            );
        }
    };
    let body: ReplayBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ReplayBody::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the body must be JSON like {{\"to\": \"http://127.0.0.1:5000\"}}: {err}"
                    ),
                );
            }
        }
    };
    let to = match body.to.as_deref().map(Target::parse).transpose() {
        Ok(to) => to,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("to: {err}")),
    };
    let original = match state.forwarder.store().get(id) {
        Ok(ex) => ex,
        Err(err) => return lookup_failure(err),
    };
    let resign = match (body.resign, &state.resign) {
        (false, _) => None,
        (true, Some(resign)) => Some(resign.clone()),
        (true, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "resign needs the signing secret: start listen with --verify PROVIDER=SECRET or add it to hooktap.toml",
            );
        }
    };
    let opts = ReplayOptions { to, resign };
    match replay_one(&state.forwarder, &original, &opts).await {
        Ok(done) => {
            let ex = &done.exchange;
            json_response(
                StatusCode::OK,
                &json!({
                    "original": done.original,
                    "id": ex.id,
                    "status": ex.status(),
                    "duration_ms": ex.duration_us as f64 / 1000.0,
                    "differs": done.differs,
                    "resigned": done.resigned,
                    "error": ex.error,
                    "exchange": exchange_json(ex),
                }),
            )
        }
        Err(err @ ReplayError::Refused(_)) => error(StatusCode::CONFLICT, err.to_string()),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "127.0.0.1:4748",
            "localhost",
            "LOCALHOST:1",
            "[::1]:4748",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:4748",
            "10.0.0.1",
            "127.0.0.1.evil.example",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
