//! Forwarding one request to the app (or answering it, with no app).
//!
//! Live traffic (local capture, tunnel) and replays all go through [`Forwarder::forward`],
//! so they are recorded the same way (`record.rs`). Bodies stream both ways through
//! [`TeeBody`]s that keep a capped copy; the record is written when the last of the two
//! bodies is done.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::broadcast;

pub use super::meta::RequestMeta;
use super::outbound::prepare_outbound_headers;
use super::pool::{GiveBack, UpstreamPool};
use super::record::{Committed, InFlight, Recorder, STARTED_BUFFER, Side, Sink, Started, begin};
use super::respond::{Respond, answer};
use super::target::Target;
use super::upstream::UpstreamError;
use crate::exchange::{Exchange, Source};
use crate::store::Store;
use crate::web::body::{BoxBody, BoxError, TeeBody};
use crate::web::error_response;
use crate::web::headers::{header_list, strip_hop_by_hop};

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

/// Forwards requests to the app and records every exchange in the store.
#[derive(Clone)]
pub struct Forwarder {
    /// Connections for requests that bring none of their own.
    pool: Arc<UpstreamPool>,
    config: Arc<ForwardConfig>,
    store: Store,
    in_flight: Arc<InFlight>,
    /// Each exchange as it begins.
    started: broadcast::Sender<Arc<Started>>,
    /// With no app (`listen --respond`): the answer to requests that name no target.
    answer: Option<Arc<Respond>>,
}

impl Forwarder {
    /// A forwarder with its own connection pool to the app.
    pub fn new(config: ForwardConfig, store: Store) -> Self {
        Self {
            pool: UpstreamPool::new(),
            config: Arc::new(config),
            store,
            in_flight: Arc::default(),
            started: broadcast::channel(STARTED_BUFFER).0,
            answer: None,
        }
    }

    /// The same forwarder, answering requests that name no target of their own with
    /// `respond` (and recording them) instead of forwarding them: `listen` with no app.
    /// Replays with a target still go to it.
    pub fn answering(mut self, respond: Respond) -> Self {
        self.answer = Some(Arc::new(respond));
        self
    }

    /// The answer given in place of an app, when there is no app.
    pub fn answers(&self) -> Option<&Respond> {
        self.answer.as_deref()
    }

    /// The configured target.
    pub fn target(&self) -> &Target {
        &self.config.target
    }

    /// The store exchanges are recorded in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Each exchange as it begins (before the app answers): the inspector's in-flight rows.
    pub fn started(&self) -> broadcast::Receiver<Arc<Started>> {
        self.started.subscribe()
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
        // A sender on the internet learns nothing of the agent's machine (the app's local
        // address, the cause); the record and the agent's output keep the detail.
        let through_tunnel = matches!(meta.source, Source::Relay | Source::Queued);
        let (mut parts, body) = req.into_parts();
        let received_pq = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        if let (Some(respond), None) = (&self.answer, &meta.target) {
            let recorder = self.recorder(&parts, &received_pq, String::new(), &meta, committed);
            return answer(respond, recorder, body, self.config.capture_limit).await;
        }
        let target = meta
            .target
            .clone()
            .unwrap_or_else(|| self.config.target.clone());
        let (outbound_pq, url) = target.route(&received_pq);
        let recorder = self.recorder(&parts, &received_pq, url, &meta, committed);

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

impl Forwarder {
    /// The recorder of one exchange, begun now: the request's head, sent to `url` (empty
    /// when hooktap answers it itself).
    fn recorder(
        &self,
        parts: &http::request::Parts,
        received_pq: &PathAndQuery,
        url: String,
        meta: &RequestMeta,
        committed: Committed,
    ) -> Arc<Recorder> {
        begin(
            &self.store,
            &self.in_flight,
            &self.started,
            (parts, received_pq, url),
            meta,
            committed,
        )
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

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
