//! [`RequestMeta`]: the facts about one request that the HTTP message does not carry
//! (where it came from, who sent it, where it goes), given by whoever hands it to the
//! forwarder: the capture listener, the tunnel, a replay.

use std::sync::Arc;

use http::header::HeaderValue;

use super::target::Target;
use super::upstream::Upstream;
use crate::exchange::{ExchangeId, Source};

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
