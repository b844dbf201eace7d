//! Replaying recorded requests through the same [`Forwarder`] as live traffic: refusal
//! checks, target resolution, pacing and concurrency. Each replay is recorded as a new
//! exchange with `replay_of` set; [`fixture`] sends a fixture file's requests the same way.

pub mod fixture;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;

use crate::capture::Target;
use crate::capture::{Forwarder, RequestMeta};
use crate::diff::{response_changes, responses_differ};
use crate::exchange::{
    Exchange, ExchangeId, RecordedRequest, RecordedResponse, Source, unix_micros,
};
use crate::output::human_size;
use crate::signature::Verifier;

/// How long a replay may take beyond the forwarder's own timeout before it is given up.
const RECORD_GRACE: Duration = Duration::from_secs(30);

/// Why a request was not replayed or its replay was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The record cannot be sent again as it was; the sentence says why.
    #[error("not replayed: {0}")]
    Refused(String),
    /// The replay was sent but its record did not appear.
    #[error("the replay was sent but its record did not appear: {0}")]
    Lost(String),
}

/// The outcome of one replay.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The record that was replayed (or the fixture entry's id).
    pub original: ExchangeId,
    /// The new record.
    pub exchange: Arc<Exchange>,
    /// Whether the response differs from the original's (status or body); `None` when
    /// there is nothing to compare with.
    pub differs: Option<bool>,
    /// The provider whose signature was renewed, when re-signed.
    pub resigned: Option<String>,
    /// What differs from the original's response, one line each (empty when the same).
    pub changes: Vec<String>,
}

impl Replayed {
    /// The one-replay summary that `replay --json` prints and the API returns.
    pub fn summary_json(&self) -> serde_json::Value {
        let ex = &self.exchange;
        serde_json::json!({
            "original": self.original,
            "id": ex.id,
            "status": ex.status(),
            "duration_ms": ex.duration_us as f64 / 1000.0,
            "differs": self.differs,
            "changes": self.changes,
            "resigned": self.resigned,
            "verdict": ex.verdict,
            "error": ex.error,
        })
    }
}

/// Why `ex` cannot be replayed as recorded, if it cannot.
pub fn check(ex: &Exchange) -> Option<String> {
    let body = &ex.request.body;
    if body.truncated() {
        return Some(format!(
            "its body was cut at the capture limit (stored {} of {}), so the app would get a different request",
            human_size(body.bytes.len() as u64),
            human_size(body.size)
        ));
    }
    None
}

/// Why a record hooktap answered itself has nowhere to go again.
const NO_APP: &str = "hooktap answered it itself (listen had no app), so it has no target to go back to; give one with --to PORT or --to URL";

/// The target `ex` was delivered to: its recorded URL minus the request's path and query.
pub fn original_target(ex: &Exchange) -> Result<Target, String> {
    base_target(&ex.target, &ex.request.uri)
}

/// The target a request for `uri` went to, from the full URL it was sent to.
pub fn base_target(url: &str, uri: &str) -> Result<Target, String> {
    if url.is_empty() {
        return Err(NO_APP.into());
    }
    let base = url.strip_suffix(uri);
    if let Some(target) = base.and_then(|b| Target::parse(b).ok()) {
        return Ok(target);
    }
    // The URL does not end with the path (never written so by this version): fall back
    // to its origin.
    let parsed: Uri = url
        .parse()
        .map_err(|_| format!("its recorded target '{url}' is not a URL"))?;
    let authority = parsed
        .authority()
        .ok_or_else(|| format!("its recorded target '{url}' has no host"))?;
    Target::parse(&format!("http://{authority}")).map_err(|e| e.to_string())
}

/// Builds the HTTP request for `req`: method, path and query, headers in order with
/// duplicates, and the exact body bytes.
pub fn build_request(req: &RecordedRequest) -> Result<Request<Full<Bytes>>, String> {
    let method = Method::from_bytes(req.method.as_bytes())
        .map_err(|_| format!("'{}' is not an HTTP method", req.method))?;
    if !req.uri.starts_with('/') {
        return Err(format!("the path '{}' does not start with /", req.uri));
    }
    let uri: Uri = req
        .uri
        .parse()
        .map_err(|_| format!("'{}' is not a valid path and query", req.uri))?;
    let mut request = Request::new(Full::new(Bytes::from(req.body.bytes.clone())));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("'{name}' is not a valid header name"))?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| format!("the {name} header's value is not valid in HTTP"))?;
        headers.append(name, value);
    }
    Ok(request)
}

/// Sends `req` to `target` through `forwarder` and returns its record once stored;
/// `public_url` is recorded as the URL the request was addressed to.
pub async fn send(
    forwarder: &Forwarder,
    req: &RecordedRequest,
    target: Target,
    public_url: Option<String>,
    replay_of: Option<ExchangeId>,
) -> Result<Arc<Exchange>, ReplayError> {
    let request = build_request(req).map_err(ReplayError::Refused)?;
    let mut meta = RequestMeta::new(Source::Replay);
    meta.replay_of = replay_of;
    meta.public_url = public_url;
    meta.target = Some(target);
    // Told the record as committed: its id is the one it is stored under, even when
    // another process writing the same store took the id this one was made with.
    let (committed, record) = tokio::sync::oneshot::channel();
    let response = forwarder.forward_then(request, meta, Some(committed)).await;
    // Read the answer to its end: the record is written once both bodies are done.
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    drop(body);
    match tokio::time::timeout(RECORD_GRACE, record).await {
        Ok(Ok(ex)) => Ok(ex),
        Ok(Err(_)) => Err(ReplayError::Lost(
            "the store did not keep it (see the warning above)".into(),
        )),
        Err(_) => Err(ReplayError::Lost(format!(
            "no record after {}s",
            RECORD_GRACE.as_secs()
        ))),
    }
}

/// Replaces a request's signature headers for the URL it is about to be sent to, with a
/// fresh timestamp; returns the provider's name, or why it cannot. Built from the
/// configured secrets by the caller, so replay does not depend on the signature schemes.
pub type Resign = Arc<dyn Fn(&mut RecordedRequest, &str) -> Result<String, String> + Send + Sync>;

/// A [`Resign`] hook from the configured secrets, with the time taken at send time.
pub fn resign_with(verifier: Verifier) -> Resign {
    Arc::new(move |req, url| {
        let now = unix_micros(SystemTime::now()) / 1_000_000;
        verifier
            .resign(req, Some(url), now)
            .map_err(|err| err.to_string())
    })
}

/// How to replay.
#[derive(Clone, Default)]
pub struct ReplayOptions {
    /// Send here instead of where each request first went (the path is joined onto it).
    pub to: Option<Target>,
    /// Re-sign each request just before it is sent; `None` sends it byte-identical.
    pub resign: Option<Resign>,
}

/// Replays `original` as `opts` say.
pub async fn replay_one(
    forwarder: &Forwarder,
    original: &Exchange,
    opts: &ReplayOptions,
) -> Result<Replayed, ReplayError> {
    replay_request(forwarder, original, &original.request, opts).await
}

/// Replays `request` (the original's, or an edited copy) as a replay of `original`,
/// re-signed after any edit when `opts` say so.
pub async fn replay_request(
    forwarder: &Forwarder,
    original: &Exchange,
    request: &RecordedRequest,
    opts: &ReplayOptions,
) -> Result<Replayed, ReplayError> {
    if let Some(reason) = check(original).filter(|_| *request == original.request) {
        return Err(ReplayError::Refused(reason));
    }
    let target = match &opts.to {
        Some(target) => target.clone(),
        None => original_target(original).map_err(ReplayError::Refused)?,
    };
    // A tunnelled request keeps the public URL it arrived on while its path is unchanged:
    // schemes that sign the URL sign that one, both when re-signing and when the replay's
    // verdict is checked. Otherwise the URL is where the replay goes.
    let public_url = original
        .public_url
        .clone()
        .filter(|_| request.uri == original.request.uri);
    let mut resigned = None;
    let mut signed;
    let mut request = request;
    if let Some(resign) = &opts.resign {
        let url = public_url
            .clone()
            .unwrap_or_else(|| target.join(&request.uri).to_string());
        signed = request.clone();
        let provider = resign(&mut signed, &url)
            .map_err(|why| ReplayError::Refused(format!("cannot re-sign it: {why}")))?;
        resigned = Some(provider);
        request = &signed;
    }
    let exchange = send(
        forwarder,
        request,
        target,
        public_url,
        Some(original.id.clone()),
    )
    .await?;
    let differs = Some(responses_differ(
        original.response.as_ref(),
        exchange.response.as_ref(),
    ));
    let changes = if differs == Some(true) {
        response_changes(original.response.as_ref(), exchange.response.as_ref())
    } else {
        Vec::new()
    };
    Ok(Replayed {
        original: original.id.clone(),
        exchange,
        differs,
        resigned,
        changes,
    })
}

/// Spaces out the starts of replays: at most `per_second` a second.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer for `per_second` starts a second; `None` does not pace.
    pub fn new(per_second: Option<f64>) -> Self {
        let interval = per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Waits for the next start slot.
    pub async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One replay to run: the original's id and, for edited or re-signed requests, the request
/// to send instead of the recorded one.
pub type Job = (ExchangeId, Option<RecordedRequest>);

/// Replays `jobs` in order, at most `concurrency` at once and paced by `pacer`, handing
/// each outcome to `report` in the jobs' order. `load` fetches a record by id.
pub async fn replay_all<L, R>(
    forwarder: &Forwarder,
    jobs: Vec<Job>,
    opts: &ReplayOptions,
    concurrency: usize,
    pacer: &Pacer,
    load: L,
    mut report: R,
) where
    L: Fn(&ExchangeId) -> Result<Exchange, String>,
    R: FnMut(&ExchangeId, Result<Replayed, ReplayError>),
{
    let load = &load;
    let mut results = futures_util::stream::iter(jobs)
        .map(|(id, edited)| async move {
            let outcome = async {
                let original = load(&id).map_err(ReplayError::Refused)?;
                if let Some(reason) = check(&original).filter(|_| edited.is_none()) {
                    return Err(ReplayError::Refused(reason));
                }
                pacer.wait().await;
                let request = edited.as_ref().unwrap_or(&original.request);
                replay_request(forwarder, &original, request, opts).await
            }
            .await;
            (id, outcome)
        })
        .buffered(concurrency.max(1));
    while let Some((id, outcome)) = results.next().await {
        report(&id, outcome);
    }
}

/// Whether a replay's response differs from a recorded one (for fixtures).
pub fn differs_from(expected: Option<&RecordedResponse>, got: &Exchange) -> Option<bool> {
    expected.map(|e| responses_differ(Some(e), got.response.as_ref()))
}
