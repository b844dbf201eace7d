//! The relay's limits, and the response body wrapper that holds a request's slots until
//! its answer is sent (the request side is [`super::deadline::SenderBody`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

/// Every limit of the relay, each with a flag.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body (413 beyond).
    pub max_body: u64,
    /// Largest request head: the sum of header names and values (431 beyond).
    pub max_header: usize,
    /// Requests in flight per tunnel (429 beyond).
    pub max_in_flight: usize,
    /// How long the agent may take to send the response head (504 beyond).
    pub upstream_timeout: Duration,
    /// How long an agent may take to say hello after the upgrade.
    pub handshake_timeout: Duration,
    /// How long a sender's connection may sit idle before the relay closes it (at most
    /// `header_timeout`: an idle connection is one whose next request head is late).
    pub idle_timeout: Duration,
    /// How long a sender may take to send a request head, counted from the connection
    /// opening or the previous response (the connection is closed beyond).
    pub header_timeout: Duration,
    /// How long a sender's body may take, before the allowance for bytes received (408).
    pub body_timeout: Duration,
    /// Each this many body bytes received add one second to the body's deadline.
    pub body_min_rate: u64,
    /// Requests in flight per tunnel from one peer address (429 beyond).
    pub max_in_flight_per_peer: usize,
    /// Anonymous tunnels open at once from one peer address.
    pub max_tunnels_per_peer: usize,
    /// Tunnel handshakes per minute from one peer address (429 beyond).
    pub max_handshakes_per_minute: usize,
    /// An anonymous name unused (no agent connected) for this long is released.
    pub anonymous_name_ttl: Duration,
    /// Queued requests kept per name (507 beyond).
    pub queue_max_requests: u64,
    /// Queued body bytes kept per name (507 beyond).
    pub queue_max_bytes: u64,
    /// Queued body bytes kept over all names (507 beyond).
    pub queue_max_total_bytes: u64,
    /// Deliveries of a queued request before it is kept aside as a dead letter.
    pub queue_attempts: u32,
    /// Wait after a queued request's first failed delivery; doubles up to the max.
    pub queue_retry_min: Duration,
    /// Longest wait between deliveries of a queued request.
    pub queue_retry_max: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 1 << 30,
            max_header: 32 * 1024,
            max_in_flight: 256,
            upstream_timeout: Duration::from_secs(60),
            handshake_timeout: crate::tunnel::protocol::DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            body_min_rate: 16 * 1024,
            max_in_flight_per_peer: 32,
            max_tunnels_per_peer: 10,
            max_handshakes_per_minute: 60,
            anonymous_name_ttl: Duration::from_secs(24 * 3600),
            queue_max_requests: 1000,
            queue_max_bytes: 64 << 20,
            queue_max_total_bytes: 1 << 30,
            queue_attempts: 8,
            queue_retry_min: Duration::from_secs(1),
            queue_retry_max: Duration::from_secs(30),
        }
    }
}

/// Bytes of a request head as the limit counts them.
pub fn header_bytes(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// The body went beyond the size limit.
#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the relay's limit of {0} bytes")]
pub struct TooLarge(pub u64);

/// Keeps something alive (an in-flight permit) until the body it wraps is done.
pub struct HoldingBody<B, T> {
    inner: B,
    _held: T,
    counter: Arc<AtomicU64>,
}

impl<B, T> HoldingBody<B, T> {
    /// Wraps `inner`, holding `held` and counting bytes into `counter`.
    pub fn new(inner: B, held: T, counter: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            _held: held,
            counter,
        }
    }
}

impl<B, T> HttpBody for HoldingBody<B, T>
where
    B: HttpBody<Data = Bytes> + Unpin,
    T: Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
