//! The shared record of one HTTP exchange: what was received, what the app answered.
//!
//! Every part of hooktap speaks this type: the capture server and the tunnel produce it,
//! the store persists it, the headless output, `show`, replay and export read it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// A short, time-sortable identifier: 12 lowercase Crockford base32 characters.
///
/// The top 42 bits are milliseconds since the Unix epoch, the low 18 bits a counter that
/// starts each millisecond at a random offset chosen once per process, so ids sort by
/// creation time, stay unique within a process, and two processes writing one store
/// rarely pick the same one. The store's writer settles the rare clash (see
/// [`crate::store`]): the id a committed record carries is the one to print.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExchangeId(pub String);

const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Number of characters in an id.
pub const ID_LEN: usize = 12;

impl ExchangeId {
    /// A new id for "now", strictly greater than any id this process made before.
    pub fn generate() -> Self {
        static LAST: AtomicU64 = AtomicU64::new(0);
        static SALT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        // Half the counter's range, so a process can still mint 2^17 ids in one millisecond.
        let salt = *SALT.get_or_init(|| rand::random::<u64>() & ((1 << 17) - 1));
        let millis = unix_micros(SystemTime::now()) as u64 / 1000;
        let candidate = ((millis & ((1 << 42) - 1)) << 18) | salt;
        let mut last = LAST.load(Ordering::Relaxed);
        loop {
            let next = if candidate > last {
                candidate
            } else {
                last + 1
            };
            match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Self(encode_id(next)),
                Err(actual) => last = actual,
            }
        }
    }

    /// The id right after this one (how the store settles a clash between processes).
    pub fn next(&self) -> Option<Self> {
        let value = self.to_u64()?.checked_add(1)?;
        (value < 1 << 60).then(|| Self::from_u64(value))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id for the 60-bit number `value` (how the store keeps ids).
    pub fn from_u64(value: u64) -> Self {
        Self(encode_id(value))
    }

    /// The number behind the id, if it is a well-formed id.
    pub fn to_u64(&self) -> Option<u64> {
        if self.0.len() != ID_LEN {
            return None;
        }
        self.0
            .bytes()
            .try_fold(0u64, |acc, b| Some((acc << 5) | digit(b)?))
    }

    /// The range of numbers `[start, end)` whose ids start with `prefix` (case-insensitive),
    /// or `None` when `prefix` is empty, too long or not made of id characters.
    pub fn prefix_range(prefix: &str) -> Option<(u64, u64)> {
        if prefix.is_empty() || prefix.len() > ID_LEN {
            return None;
        }
        let value = prefix.bytes().try_fold(0u64, |acc, b| {
            Some((acc << 5) | digit(b.to_ascii_lowercase())?)
        })?;
        let shift = 5 * (ID_LEN - prefix.len()) as u32;
        Some((value << shift, (value + 1) << shift))
    }
}

fn digit(byte: u8) -> Option<u64> {
    ID_ALPHABET
        .iter()
        .position(|&c| c == byte)
        .map(|d| d as u64)
}

fn encode_id(value: u64) -> String {
    (0..ID_LEN)
        .rev()
        .map(|i| ID_ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

impl fmt::Display for ExchangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an exchange came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Sent straight to the local capture listener.
    Local,
    /// Arrived through the relay tunnel.
    Relay,
    /// Queued by the relay while the agent was offline and delivered late.
    Queued,
    /// Re-sent by `hooktap replay` or the API.
    Replay,
}

impl Source {
    /// The lowercase name used in the store and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Relay => "relay",
            Source::Queued => "queued",
            Source::Replay => "replay",
        }
    }

    /// Parses the name written by [`Source::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "local" => Source::Local,
            "relay" => Source::Relay,
            "queued" => Source::Queued,
            "replay" => Source::Replay,
            _ => return None,
        })
    }

    /// Parses a source a person typed (any case, spaces around), like [`StatusMatch`]'s
    /// and [`VerdictMatch`]'s parsers for the same record filter; the error names the forms.
    ///
    /// [`StatusMatch`]: crate::store::StatusMatch
    /// [`VerdictMatch`]: crate::store::VerdictMatch
    pub fn parse_typed(text: &str) -> Result<Self, String> {
        Self::parse(&text.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("'{text}' is not a source: use local, relay, queued or replay"))
    }
}

/// One header as received: the name (lowercase, as HTTP/2 and hyper carry it) and the raw
/// value bytes. Kept in a list so duplicates and their order survive.
pub type Header = (String, Vec<u8>);

/// A captured body: the bytes kept (at most the capture cap) and the full size seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// The bytes exactly as received, cut at the capture cap.
    pub bytes: Vec<u8>,
    /// How many bytes passed in total (equal to `bytes.len()` unless truncated).
    pub size: u64,
}

impl Body {
    /// A whole body.
    pub fn full(bytes: Vec<u8>) -> Self {
        let size = bytes.len() as u64;
        Self { bytes, size }
    }

    /// True when the stored bytes are not the whole body.
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.size
    }
}

/// The request as the sender sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path and query exactly as received, e.g. `/hook?x=1`.
    pub uri: String,
    /// HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers in order, duplicates kept.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Body,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive) as text, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// The app's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, duplicates kept.
    pub headers: Vec<Header>,
    /// The body.
    pub body: Body,
}

/// The first value of header `name` (case-insensitive) in `headers`, if UTF-8.
pub fn header_value<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Headers that carry a provider's delivery id, repeated when the provider redelivers.
const DELIVERY_HEADERS: [&str; 6] = [
    "x-github-delivery",
    "webhook-id",
    "svix-id",
    "x-shopify-webhook-id",
    "x-gitlab-event-uuid",
    "x-event-id",
];

/// The provider's id for this delivery, if the request carries one: a delivery header, or
/// for Stripe (`Stripe-Signature`) the event id at the start of the JSON body
/// (`body_head` may be only the body's first bytes).
pub fn delivery_id(headers: &[Header], body_head: &[u8]) -> Option<String> {
    if let Some(id) = DELIVERY_HEADERS
        .iter()
        .find_map(|name| header_value(headers, name))
    {
        return Some(id.to_string());
    }
    header_value(headers, "stripe-signature")?;
    let text = String::from_utf8_lossy(body_head);
    let start = text.find("\"evt_")? + 1;
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string())
}

/// One recorded exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// Short, sortable id.
    pub id: ExchangeId,
    /// When the request arrived, in microseconds since the Unix epoch.
    pub received_at_us: i64,
    /// Where it came from.
    pub source: Source,
    /// The public URL the request arrived on, for tunnelled requests (some signature schemes
    /// sign it); `None` for local ones.
    pub public_url: Option<String>,
    /// The target URL the request was forwarded to.
    pub target: String,
    /// The request as received.
    pub request: RecordedRequest,
    /// The app's response, if one came.
    pub response: Option<RecordedResponse>,
    /// Microseconds until the app's response headers arrived.
    pub ttfb_us: Option<i64>,
    /// Microseconds until the exchange completed (both bodies done).
    pub duration_us: i64,
    /// Why the exchange failed (app down, timeout, body aborted), if it did.
    pub error: Option<String>,
    /// The exchange this one replays.
    pub replay_of: Option<ExchangeId>,
    /// The signature verdict, when the request was checked.
    pub verdict: Option<Verdict>,
}

impl Exchange {
    /// The response status, if any.
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// Failed: no response, or a non-2xx status (the definition `--failed` uses).
    pub fn failed(&self) -> bool {
        !matches!(self.status(), Some(200..=299))
    }

    /// True when hooktap answered the request itself (`listen` with no app): it went to
    /// no target, and its record's target is empty.
    pub fn answered_by_hooktap(&self) -> bool {
        self.target.is_empty()
    }

    /// The target for people to read: its URL, or that hooktap answered.
    pub fn target_label(&self) -> &str {
        if self.answered_by_hooktap() {
            "none (no app: hooktap answered)"
        } else {
            &self.target
        }
    }

    /// A URL to send the request to again (curl, HAR): its target, or for a request
    /// hooktap answered, the URL the sender called (the public URL, else its `Host`).
    pub fn url(&self) -> String {
        if !self.answered_by_hooktap() {
            return self.target.clone();
        }
        let uri = &self.request.uri;
        match (&self.public_url, self.request.header("host")) {
            (Some(public), _) if public.ends_with(uri.as_str()) => public.clone(),
            (Some(public), _) => format!("{}{uri}", public.trim_end_matches('/')),
            (None, Some(host)) => format!("http://{host}{uri}"),
            (None, None) => format!("http://localhost{uri}"),
        }
    }
}

/// Microseconds since the Unix epoch.
pub fn unix_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// `time` (microseconds since the epoch) as an RFC 3339 UTC timestamp with milliseconds.
pub fn format_time(micros: i64) -> String {
    let time = UNIX_EPOCH + std::time::Duration::from_micros(micros.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
impl Exchange {
    /// A bare local exchange for unit tests: `POST uri` to the app on port 5000, no
    /// headers, no body, no response; tests set what they look at.
    pub fn for_test(uri: &str) -> Self {
        Self {
            id: ExchangeId::generate(),
            received_at_us: 0,
            source: Source::Local,
            public_url: None,
            target: format!("http://127.0.0.1:5000{uri}"),
            request: RecordedRequest {
                method: "POST".into(),
                uri: uri.into(),
                version: "HTTP/1.1".into(),
                headers: Vec::new(),
                body: Body::default(),
            },
            response: None,
            ttfb_us: None,
            duration_us: 0,
            error: None,
            replay_of: None,
            verdict: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sortable_and_short() {
        let ids: Vec<ExchangeId> = (0..1000).map(|_| ExchangeId::generate()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids must strictly increase"
        );
        assert!(ids.iter().all(|id| id.0.len() == ID_LEN));
    }

    #[test]
    fn ids_round_trip_through_numbers_and_prefixes_cover_them() {
        let id = ExchangeId::generate();
        let n = id.to_u64().unwrap();
        assert_eq!(ExchangeId::from_u64(n), id);
        let (start, end) = ExchangeId::prefix_range(&id.as_str()[..5].to_uppercase()).unwrap();
        assert!(start <= n && n < end);
        assert_eq!(ExchangeId::prefix_range(id.as_str()), Some((n, n + 1)));
        assert_eq!(ExchangeId::prefix_range("../x"), None);
        assert_eq!(ExchangeId::prefix_range("u"), None, "not a Crockford digit");
        assert_eq!(ExchangeId::prefix_range(""), None);
    }

    #[test]
    fn failed_means_no_response_or_non_2xx() {
        let mut ex = sample();
        assert!(ex.failed());
        ex.response = Some(RecordedResponse {
            status: 204,
            headers: vec![],
            body: Body::default(),
        });
        assert!(!ex.failed());
        if let Some(r) = ex.response.as_mut() {
            r.status = 302;
        }
        assert!(ex.failed());
    }

    fn sample() -> Exchange {
        Exchange::for_test("/")
    }
}
