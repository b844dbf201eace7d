//! The relay's limits, and the body wrapper that enforces the size limit while counting
//! bytes as they stream (nothing is buffered to check it).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::body::BoxError;

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
    /// How long a sender's connection may sit idle before the relay closes it.
    pub idle_timeout: Duration,
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

/// A body that fails once more than `limit` bytes passed, and counts them into `counter`.
pub struct LimitedBody<B> {
    inner: B,
    seen: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
    counter: Arc<AtomicU64>,
}

impl<B> LimitedBody<B> {
    /// Wraps `inner`; `exceeded` is set when the limit is crossed.
    pub fn new(inner: B, limit: u64, exceeded: Arc<AtomicBool>, counter: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            seen: 0,
            limit,
            exceeded,
            counter,
        }
    }
}

impl<B> HttpBody for LimitedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    this.seen += len;
                    this.counter.fetch_add(len, Ordering::Relaxed);
                    if this.seen > this.limit {
                        this.exceeded.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(Box::new(TooLarge(this.limit)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            other => other.map(|_| None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

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
