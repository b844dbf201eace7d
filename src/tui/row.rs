//! One line of the request list: a record's summary without its bodies, and its
//! signature badge.

use crate::exchange::{Exchange, Source, delivery_id};
use crate::signature::Verdict;
use crate::store::Summary;

/// A request that reached the capture path and waits for the app, from the session's
/// stream of started exchanges (`Session::started`; `id` is the id its record will be
/// committed under, but for a rare clash with another process's id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The record's id number, as [`crate::exchange::ExchangeId::to_u64`] gives it.
    pub id: u64,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Where it came from.
    pub source: Source,
    /// When it was received, µs since the epoch.
    pub started_at_us: i64,
}

/// A signature verdict, as small as the list needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigKind {
    /// Valid.
    Valid,
    /// Invalid.
    Invalid,
    /// MAC right, timestamp outside the tolerance.
    Expired,
    /// The signature header is missing.
    Missing,
    /// No secret configured for the provider.
    NoSecret,
}

/// The list's signature badge: the verdict and the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sig {
    /// The verdict.
    pub kind: SigKind,
    /// The provider, e.g. `stripe`.
    pub provider: String,
}

impl Sig {
    fn of(verdict: &Verdict) -> Self {
        let kind = match verdict {
            Verdict::Valid { .. } => SigKind::Valid,
            Verdict::Invalid { .. } => SigKind::Invalid,
            Verdict::Expired { .. } => SigKind::Expired,
            Verdict::MissingHeader { .. } => SigKind::Missing,
            Verdict::NoSecret { .. } => SigKind::NoSecret,
        };
        Self {
            kind,
            provider: verdict.provider().to_string(),
        }
    }
}

/// One line of the list: a record without its bodies.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The id's number (ids sort by time).
    pub id: u64,
    /// Received, µs since the epoch.
    pub received_at_us: i64,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status, if the app answered.
    pub status: Option<u16>,
    /// Total duration in µs.
    pub duration_us: i64,
    /// Request body size.
    pub size: u64,
    /// Signature verdict.
    pub sig: Option<Sig>,
    /// Where it came from.
    pub source: Source,
    /// The original, for a replay.
    pub replay_of: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The request body was stored cut.
    pub cut: bool,
    /// The provider's delivery id.
    pub delivery_id: Option<String>,
    /// An earlier record carries the same delivery id.
    pub redelivery: bool,
    /// Still waiting for the app: not recorded yet (`duration_us` is not known).
    pub in_flight: bool,
}

impl Row {
    /// The row for a summary read from the store.
    pub fn from_summary(s: Summary) -> Self {
        let id = crate::exchange::ExchangeId(s.id).to_u64().unwrap_or(0);
        Self {
            id,
            received_at_us: s.received_at_us,
            method: s.method,
            path: s.path,
            status: s.status,
            duration_us: (s.duration_ms * 1000.0).round() as i64,
            size: s.request_size,
            sig: s.verdict.as_ref().map(Sig::of),
            source: s.source,
            replay_of: s.replay_of,
            error: s.error,
            cut: s.cut,
            delivery_id: s.delivery_id,
            redelivery: false,
            in_flight: false,
        }
    }

    /// The row for a committed exchange.
    pub fn from_exchange(ex: &Exchange) -> Self {
        let body = &ex.request.body;
        Self {
            id: ex.id.to_u64().unwrap_or(0),
            received_at_us: ex.received_at_us,
            method: ex.request.method.clone(),
            path: ex.request.uri.clone(),
            status: ex.status(),
            duration_us: ex.duration_us,
            size: body.size,
            sig: ex.verdict.as_ref().map(Sig::of),
            source: ex.source,
            replay_of: ex.replay_of.as_ref().map(|id| id.0.clone()),
            error: ex.error.clone(),
            cut: body.truncated(),
            delivery_id: delivery_id(
                &ex.request.headers,
                &body.bytes[..body.bytes.len().min(512)],
            ),
            redelivery: false,
            in_flight: false,
        }
    }

    /// The row of a request still waiting for the app.
    pub fn from_started(started: &Started) -> Self {
        Self {
            id: started.id,
            received_at_us: started.started_at_us,
            method: started.method.clone(),
            path: started.path.clone(),
            status: None,
            duration_us: 0,
            size: 0,
            sig: None,
            source: started.source,
            replay_of: None,
            error: None,
            cut: false,
            delivery_id: None,
            redelivery: false,
            in_flight: true,
        }
    }

    /// The text id.
    pub fn id_text(&self) -> String {
        crate::exchange::ExchangeId::from_u64(self.id).0
    }

    /// No response, or not 2xx.
    pub fn failed(&self) -> bool {
        !matches!(self.status, Some(200..=299))
    }
}
