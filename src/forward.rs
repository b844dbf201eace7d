//! Forwarding one request to the app and recording the exchange.
//!
//! Live traffic (local capture, tunnel) and replays all go through [`Forwarder::forward`],
//! so they are recorded the same way. Bodies stream both ways through [`TeeBody`]s that
//! keep a capped copy; the record is written when the last of the two bodies is done.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::body::{BodyEnd, BodySink, BoxBody, BoxError, TeeBody};
use crate::exchange::{
    Body, Exchange, ExchangeId, Header, RecordedRequest, RecordedResponse, Source, unix_micros,
};
use crate::store::Store;
use crate::target::Target;
use crate::upstream::{Upstream, UpstreamError};
use crate::upstream_pool::{GiveBack, UpstreamPool};

/// Default time the app may take to send its response headers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of body bytes kept per request and per response.
pub const DEFAULT_CAPTURE_LIMIT: usize = 10 * 1024 * 1024;

/// Settings for a [`Forwarder`].
#[derive(Clone, Debug)]
pub struct ForwardConfig {
    /// Where requests go unless a request names another target.
    pub target: Target,
    /// How long the app may take to answer (response headers).
    pub timeout: Duration,
    /// Body bytes kept per request and per response.
    pub capture_limit: usize,
}

/// Facts about one request that the HTTP message itself does not carry.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    /// Where it came from.
    pub source: Source,
    /// The sender's IP address as an `X-Forwarded-For` entry (local capture only): made
    /// once per connection with [`forwarded_for`].
    pub forwarded_for: Option<HeaderValue>,
    /// The public URL the request arrived on (tunnelled requests).
    pub public_url: Option<String>,
    /// When the request arrived (µs since the epoch); `None` means now.
    pub received_at_us: Option<i64>,
    /// The exchange this request replays.
    pub replay_of: Option<ExchangeId>,
    /// Send to this target instead of the configured one.
    pub target: Option<Target>,
    /// The inbound connection's own connection to the app (HTTP/1.1 capture, for the
    /// configured target); `None` uses the forwarder's pool.
    pub upstream: Option<Arc<Upstream>>,
    /// Record the exchange under this id (a replay picks its own to find its record);
    /// `None` makes a new one.
    pub id: Option<ExchangeId>,
    /// The relay's id of a queued request (`x-hooktap-queued-id`), kept with the record
    /// so a second delivery of it is recognised.
    pub queued_id: Option<String>,
}

impl RequestMeta {
    /// Meta for a request of `source` with nothing else known.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            forwarded_for: None,
            public_url: None,
            received_at_us: None,
            replay_of: None,
            target: None,
            upstream: None,
            id: None,
            queued_id: None,
        }
    }
}

/// Forwards requests to the app and records every exchange in the store.
#[derive(Clone)]
pub struct Forwarder {
    /// Connections for requests that bring none of their own.
    pool: Arc<UpstreamPool>,
    config: Arc<ForwardConfig>,
    store: Store,
    in_flight: Arc<InFlight>,
}

/// Exchanges begun and not yet recorded.
#[derive(Default)]
struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts one exchange in flight until dropped (with its [`Recorder`], after the record
/// is queued).
struct InFlightGuard(Arc<InFlight>);

impl InFlightGuard {
    fn new(in_flight: &Arc<InFlight>) -> Self {
        in_flight
            .count
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(in_flight.clone())
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self
            .0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl Forwarder {
    /// A forwarder with its own connection pool to the app.
    pub fn new(config: ForwardConfig, store: Store) -> Self {
        Self {
            pool: UpstreamPool::new(),
            config: Arc::new(config),
            store,
            in_flight: Arc::default(),
        }
    }

    /// The configured target.
    pub fn target(&self) -> &Target {
        &self.config.target
    }

    /// The store exchanges are recorded in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Exchanges begun and not yet recorded (waiting for the app, or bodies streaming).
    pub fn in_flight(&self) -> usize {
        self.in_flight
            .count
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until no exchange is in flight: every one begun so far is queued for the
    /// store. Shutdown waits for this before the final flush.
    pub async fn idle(&self) {
        loop {
            let notified = self.in_flight.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Forwards `req` and returns the app's response (or a 502/504 of hooktap's own); the
    /// exchange is recorded once both bodies are done.
    pub async fn forward<B>(&self, req: Request<B>, meta: RequestMeta) -> Response<BoxBody>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        self.forward_then(req, meta, None).await
    }

    /// [`Forwarder::forward`], telling `committed` the record once it is committed (with
    /// the id it is stored under).
    pub async fn forward_then<B>(
        &self,
        req: Request<B>,
        meta: RequestMeta,
        committed: Option<tokio::sync::oneshot::Sender<Arc<Exchange>>>,
    ) -> Response<BoxBody>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        // Records waiting for the disk are bounded: past the bound, wait for room rather
        // than grow memory (briefly: the writer commits in milliseconds).
        self.store.room().await;
        let started = Instant::now();
        // A sender on the internet learns nothing of the agent's machine (the app's local
        // address, the cause); the record and the agent's output keep the detail.
        let through_tunnel = matches!(meta.source, Source::Relay | Source::Queued);
        let received_at_us = meta
            .received_at_us
            .unwrap_or_else(|| unix_micros(SystemTime::now()));
        let target = meta
            .target
            .clone()
            .unwrap_or_else(|| self.config.target.clone());
        let (mut parts, body) = req.into_parts();
        let received_pq = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let (outbound_pq, url) = target.route(&received_pq);
        let exchange = Exchange {
            id: meta.id.clone().unwrap_or_else(ExchangeId::generate),
            received_at_us,
            source: meta.source,
            public_url: meta.public_url.clone(),
            target: url,
            request: RecordedRequest {
                method: parts.method.as_str().to_owned(),
                uri: received_pq.as_str().to_owned(),
                version: version_name(parts.version).to_owned(),
                headers: header_list(&parts.headers),
                body: Body::default(),
            },
            response: None,
            ttfb_us: None,
            duration_us: 0,
            error: None,
            replay_of: meta.replay_of.clone(),
            verdict: None,
        };
        let recorder = Arc::new(Recorder {
            state: Mutex::new(Some((exchange, committed))),
            queued_id: meta.queued_id.clone(),
            store: self.store.clone(),
            started,
            _in_flight: InFlightGuard::new(&self.in_flight),
        });

        prepare_outbound_headers(&mut parts.headers, &target, &meta);
        parts.version = http::Version::HTTP_11;
        let sink = Box::new(Sink(recorder.clone(), Side::Request));
        let (body, unread) = TeeBody::reclaimable(body, self.config.capture_limit, sink);
        let upstream = meta.upstream.as_ref().filter(|_| meta.target.is_none());
        // A direct connection takes the origin form: `/path?query`.
        parts.uri = http::Uri::from(outbound_pq);
        let outbound = Request::from_parts(parts, body.boxed_unsync());
        let send = async {
            let sent = match upstream {
                Some(upstream) => upstream
                    .send(&target, outbound)
                    .await
                    .map(|r| r.map(GiveBack::plain)),
                None => self.pool.send(&target, outbound).await,
            };
            sent.map_err(|err| match err {
                UpstreamError::Connect(e) => SendFailure::Connect(format!("{:#}", e)),
                UpstreamError::Send(e) => SendFailure::Other(root_cause(&e)),
            })
        };

        let result = tokio::time::timeout(self.config.timeout, send).await;
        if result.as_ref().is_ok_and(|r| r.is_ok()) {
            drop(unread);
        } else {
            // The app never took the body: read it anyway so the record keeps the payload.
            record_unread_body(unread).await;
        }
        match result {
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                recorder.set_response(parts.status.as_u16(), header_list(&parts.headers));
                strip_hop_by_hop(&mut parts.headers);
                let sink = Box::new(Sink(recorder, Side::Response));
                let body = TeeBody::new(body, self.config.capture_limit, sink).boxed_unsync();
                Response::from_parts(parts, body)
            }
            Ok(Err(err)) => {
                let reason = match err {
                    SendFailure::Connect(cause) => {
                        format!("could not reach the app at {target}: {cause}")
                    }
                    SendFailure::Other(cause) => {
                        format!("the app at {target} failed to answer: {cause}")
                    }
                };
                recorder.fail(reason.clone());
                let told = if through_tunnel {
                    "the tunnel's app did not answer"
                } else {
                    &reason
                };
                error_response(StatusCode::BAD_GATEWAY, told)
            }
            Err(_) => {
                let within = humantime::format_duration(self.config.timeout);
                let reason = format!("the app at {target} did not answer within {within}");
                recorder.fail(reason.clone());
                let told = if through_tunnel {
                    format!("the tunnel's app did not answer within {within}")
                } else {
                    reason
                };
                error_response(StatusCode::GATEWAY_TIMEOUT, &told)
            }
        }
    }
}

/// Why a request did not get a response from the app.
enum SendFailure {
    /// The app could not be reached.
    Connect(String),
    /// It was reached but did not answer.
    Other(String),
}

/// How long to wait for the sender's unread body when the app failed.
const UNREAD_BODY_WAIT: Duration = Duration::from_secs(10);

async fn record_unread_body<B>(unread: tokio::sync::oneshot::Receiver<TeeBody<B>>)
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let drain = async {
        let mut rest = unread.await.ok()?;
        while let Some(frame) = rest.frame().await {
            frame.ok()?;
        }
        Some(())
    };
    let _ = tokio::time::timeout(UNREAD_BODY_WAIT, drain).await;
}

/// A plain-text response of hooktap's own, one line naming the problem.
pub fn error_response(status: StatusCode, reason: &str) -> Response<BoxBody> {
    let body = Full::new(Bytes::from(format!("hooktap: {reason}\n")))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Headers as a list of (lowercase name, value bytes), in order.
pub fn header_list(headers: &HeaderMap) -> Vec<Header> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
        .collect()
}

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes hop-by-hop headers (RFC 9110 §7.6.1): the fixed set and those named by
/// `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names is cheaper than a removal (a hash
    // and a probe) for each of the fixed set.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The hop-by-hop headers every proxy drops, whether or not `Connection` names them.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

fn prepare_outbound_headers(headers: &mut HeaderMap, target: &Target, meta: &RequestMeta) {
    let original_host = headers.get(header::HOST).cloned();
    strip_hop_by_hop(headers);
    if let Some(entry) = &meta.forwarded_for {
        add_forwarded_for(headers, entry);
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if let Some(host) = original_host
        && !headers.contains_key(X_FORWARDED_HOST)
    {
        headers.insert(X_FORWARDED_HOST, host);
    }
    // The app sees its own address as Host, as it would without hooktap in between:
    // frameworks that check allowed hosts accept localhost but not a relay's name.
    headers.insert(header::HOST, target.host_header().clone());
}

/// The `X-Forwarded-For` entry for a sender at `peer`.
pub fn forwarded_for(peer: SocketAddr) -> Option<HeaderValue> {
    HeaderValue::try_from(peer.ip().to_string()).ok()
}

/// Appends `entry` (from [`forwarded_for`]) to the `X-Forwarded-For` chain in `headers`,
/// or starts the chain with it.
pub fn add_forwarded_for(headers: &mut HeaderMap, entry: &HeaderValue) {
    let value = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(existing) => HeaderValue::try_from(format!(
            "{existing}, {}",
            entry.to_str().unwrap_or_default()
        ))
        .ok(),
        None => Some(entry.clone()),
    };
    if let Some(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// A version as the store and the tunnel write it (`HTTP/1.1`).
pub fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Who waits for a record's commit.
type Committed = Option<tokio::sync::oneshot::Sender<Arc<Exchange>>>;

/// Collects the parts of one exchange and records it when the last part is dropped.
struct Recorder {
    state: Mutex<Option<(Exchange, Committed)>>,
    queued_id: Option<String>,
    store: Store,
    started: Instant,
    // Dropped after `drop` has queued the record.
    _in_flight: InFlightGuard,
}

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut Exchange) -> T) -> Option<T> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_mut().map(|(ex, _)| f(ex))
    }

    fn set_response(&self, status: u16, headers: Vec<Header>) {
        let ttfb = self.started.elapsed().as_micros() as i64;
        self.with(|ex| {
            ex.ttfb_us = Some(ttfb);
            ex.response = Some(RecordedResponse {
                status,
                headers,
                body: Body::default(),
            });
        });
    }

    fn fail(&self, reason: String) {
        self.with(|ex| ex.error.get_or_insert(reason).clone());
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let taken = self
            .state
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((mut exchange, committed)) = taken {
            exchange.duration_us = self.started.elapsed().as_micros() as i64;
            // Dropped before the app answered and with no failure noted: the sender (or
            // the tunnel that brought the request) went away and the wait was abandoned.
            // Say so, rather than leave a record that failed for no stated reason.
            if exchange.response.is_none() && exchange.error.is_none() {
                exchange.error = Some(match exchange.source {
                    Source::Relay | Source::Queued => {
                        "the tunnel closed before the app answered".to_string()
                    }
                    _ => "the sender went away before the app answered".to_string(),
                });
            }
            self.store
                .record_queued_then(exchange, self.queued_id.take(), committed);
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Request,
    Response,
}

struct Sink(Arc<Recorder>, Side);

impl BodySink for Sink {
    fn finish(&self, body: Body, end: BodyEnd) {
        let side = self.1;
        self.0.with(|ex| {
            let problem = match (side, &end) {
                (_, BodyEnd::Complete) => None,
                (Side::Request, BodyEnd::Failed(e)) => {
                    Some(format!("the request body failed: {e}"))
                }
                (Side::Response, BodyEnd::Failed(e)) => {
                    Some(format!("the app's response body failed: {e}"))
                }
                // The app may answer without reading the whole request; that is its call.
                (Side::Request, BodyEnd::Abandoned) => None,
                (Side::Response, BodyEnd::Abandoned) => {
                    Some("the sender went away before the response was complete".to_string())
                }
            };
            if let Some(problem) = problem {
                ex.error.get_or_insert(problem);
            }
            match side {
                Side::Request => ex.request.body = body,
                Side::Response => {
                    if let Some(response) = ex.response.as_mut() {
                        response.body = body;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn outbound_headers_name_the_sender_and_the_app_as_host() {
        let target = Target::parse("5000").unwrap();
        let mut meta = RequestMeta::new(Source::Local);
        meta.forwarded_for = forwarded_for("127.0.0.9:40000".parse().unwrap());

        let mut first = map(&[("host", "example.test")]);
        prepare_outbound_headers(&mut first, &target, &meta);
        assert_eq!(first["x-forwarded-for"], "127.0.0.9");
        assert_eq!(first["x-forwarded-host"], "example.test");
        assert_eq!(first["x-forwarded-proto"], "http");
        assert_eq!(first["host"], "127.0.0.1:5000");

        let mut chained = map(&[("host", "h"), ("x-forwarded-for", "10.0.0.1")]);
        prepare_outbound_headers(&mut chained, &target, &meta);
        assert_eq!(chained["x-forwarded-for"], "10.0.0.1, 127.0.0.9");
    }

    #[test]
    fn hop_by_hop_headers_go_and_the_rest_stay_in_order() {
        let mut headers = map(&[
            ("x-a", "1"),
            ("te", "trailers"),
            ("x-a", "2"),
            ("upgrade", "h2c"),
            ("content-type", "application/json"),
        ]);
        strip_hop_by_hop(&mut headers);
        assert_eq!(
            headers,
            map(&[
                ("x-a", "1"),
                ("x-a", "2"),
                ("content-type", "application/json")
            ])
        );

        let mut plain = map(&[("x-a", "1"), ("content-length", "2")]);
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain, map(&[("x-a", "1"), ("content-length", "2")]));

        let mut named = map(&[
            ("connection", "x-private, keep-alive"),
            ("x-private", "p"),
            ("x-b", "b"),
        ]);
        strip_hop_by_hop(&mut named);
        assert_eq!(named, map(&[("x-b", "b")]));
    }
}
