//! Recording one exchange as it happens: a [`Recorder`] collects the request's head, the
//! app's answer and both bodies (through [`Sink`]s of the teeing bodies) and queues the
//! record for the store when the last part is done; exchanges in flight are counted, and
//! each one begun is announced as [`Started`] (the inspector shows it before it ends).

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use http::uri::PathAndQuery;

use tokio::sync::broadcast;

use super::meta::RequestMeta;
use crate::exchange::{
    Body, Exchange, ExchangeId, Header, RecordedRequest, RecordedResponse, Source, unix_micros,
};
use crate::store::Store;
use crate::web::body::{BodyEnd, BodySink};
use crate::web::headers::{header_list, version_name};

/// Started exchanges kept for a listener that fell behind.
pub(super) const STARTED_BUFFER: usize = 256;

/// An exchange begun: its request head arrived and it is on its way to the app (or to
/// hooktap's own answer). Its record follows under the same id, unless another process
/// took that id first (then the record's id is the next one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The id the record will have.
    pub id: ExchangeId,
    /// When the request arrived, microseconds since the epoch.
    pub received_at_us: i64,
    /// Where it came from.
    pub source: Source,
    /// Its method.
    pub method: String,
    /// Its path and query, as received.
    pub uri: String,
}

/// Exchanges begun and not yet recorded.
#[derive(Default)]
pub(super) struct InFlight {
    pub(super) count: std::sync::atomic::AtomicUsize,
    pub(super) idle: tokio::sync::Notify,
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

/// The recorder of one exchange, begun now: the request's head (`parts`, the path and
/// query received), sent to `url` (empty when hooktap answers it itself); announced on
/// `started` when anyone listens, and counted in `in_flight` until its record is queued.
pub(super) fn begin(
    store: &Store,
    in_flight: &Arc<InFlight>,
    started: &broadcast::Sender<Arc<Started>>,
    (parts, received_pq, url): (&http::request::Parts, &PathAndQuery, String),
    meta: &RequestMeta,
    committed: Committed,
) -> Arc<Recorder> {
    let begun = Instant::now();
    let received_at_us = meta
        .received_at_us
        .unwrap_or_else(|| unix_micros(SystemTime::now()));
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
    if started.receiver_count() > 0 {
        // Nobody listening (headless output) costs nothing; a full buffer drops the
        // oldest notice, never the record.
        let _ = started.send(Arc::new(Started {
            id: exchange.id.clone(),
            received_at_us,
            source: meta.source,
            method: exchange.request.method.clone(),
            uri: exchange.request.uri.clone(),
        }));
    }
    Arc::new(Recorder {
        state: Mutex::new(Some((exchange, committed))),
        queued_id: meta.queued_id.clone(),
        store: store.clone(),
        started: begun,
        _in_flight: InFlightGuard::new(in_flight),
    })
}

/// Who waits for a record's commit.
pub(super) type Committed = Option<tokio::sync::oneshot::Sender<Arc<Exchange>>>;

/// Collects the parts of one exchange and records it when the last part is dropped.
pub(super) struct Recorder {
    state: Mutex<Option<(Exchange, Committed)>>,
    queued_id: Option<String>,
    store: Store,
    started: Instant,
    // Dropped after `drop` has queued the record.
    _in_flight: InFlightGuard,
}

impl Recorder {
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Exchange) -> T) -> Option<T> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_mut().map(|(ex, _)| f(ex))
    }

    pub(super) fn set_response(&self, status: u16, headers: Vec<Header>) {
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

    pub(super) fn fail(&self, reason: String) {
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
pub(super) enum Side {
    Request,
    Response,
}

pub(super) struct Sink(pub(super) Arc<Recorder>, pub(super) Side);

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
