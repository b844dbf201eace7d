//! Every sender's body has a read deadline, on the live and the offline path alike: it must
//! arrive within `--body-timeout`, extended by one second for each `--body-min-rate` bytes
//! received (so a large upload at a sane rate passes, a trickle does not). [`SenderBody`]
//! enforces it together with the size limit, and records why a body failed, so the
//! relay answers 408, 413 or 400 instead of blaming the tunnel.
//!
//! [`prebuffer`] reads the first [`PREBUFFER`] bytes (a whole webhook, usually) before a
//! request is opened to the agent: a sender that trickles, sends too much or breaks its
//! chunked framing early reaches no agent and holds no tunnel slot.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use super::limits::TooLarge;
use crate::web::body::BoxError;

/// Bytes of a body read before its request is opened to the agent.
pub const PREBUFFER: usize = 64 * 1024;

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the relay's deadline")]
pub struct TimedOut;

/// How a sender's body ended badly, shared with whoever answers the sender.
#[derive(Clone, Default)]
pub struct Failure {
    status: Arc<AtomicU16>,
    failed: CancellationToken,
}

impl Failure {
    /// The status the sender should get (408, 413 or 400), once the body failed.
    pub fn status(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.status.load(Ordering::Acquire)).ok()
    }

    /// Resolves when the body failed.
    pub async fn failed(&self) {
        self.failed.cancelled().await;
    }

    fn set(&self, status: StatusCode) {
        let _ =
            self.status
                .compare_exchange(0, status.as_u16(), Ordering::AcqRel, Ordering::Acquire);
        self.failed.cancel();
    }
}

/// The status a body error calls for: 408 (deadline), 413 (size) or 400 (malformed).
pub fn status_of(err: &BoxError) -> StatusCode {
    if err.is::<TimedOut>() {
        StatusCode::REQUEST_TIMEOUT
    } else if err.is::<TooLarge>() {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// The deadline's settings.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// Time for a body, before the allowance for bytes received.
    pub timeout: Duration,
    /// Each this many bytes received add one second.
    pub min_rate: u64,
}

/// A sender's request body: deadline, size limit and byte count in one.
pub struct SenderBody {
    inner: Incoming,
    sleep: Pin<Box<Sleep>>,
    started: Instant,
    deadline: Deadline,
    seen: u64,
    limit: u64,
    counter: Arc<AtomicU64>,
    failure: Failure,
    done: bool,
}

impl SenderBody {
    /// Wraps `inner`, whose deadline starts now; bytes are counted into `counter`.
    pub fn new(inner: Incoming, deadline: Deadline, limit: u64, counter: Arc<AtomicU64>) -> Self {
        let started = Instant::now();
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(started + deadline.timeout)),
            started,
            deadline,
            seen: 0,
            limit,
            counter,
            failure: Failure::default(),
            done: false,
        }
    }

    /// Tells why the body failed, once it has.
    pub fn failure(&self) -> Failure {
        self.failure.clone()
    }

    fn fail(&mut self, err: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        self.failure.set(status_of(&err));
        Poll::Ready(Some(Err(err)))
    }

    fn extend(&mut self) {
        let allowance = Duration::from_secs_f64(self.seen as f64 / self.deadline.min_rate as f64);
        let deadline = self.started + self.deadline.timeout + allowance;
        if deadline > self.sleep.deadline() {
            self.sleep.as_mut().reset(deadline);
        }
    }
}

impl HttpBody for SenderBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    this.seen += len;
                    this.counter.fetch_add(len, Ordering::Relaxed);
                    if this.seen > this.limit {
                        return this.fail(Box::new(TooLarge(this.limit)));
                    }
                    if this.deadline.min_rate > 0 {
                        this.extend();
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => this.fail(err.into()),
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => this.fail(Box::new(TimedOut)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body whose first frames were read already, then the rest.
pub struct Prebuffered {
    head: VecDeque<Frame<Bytes>>,
    rest: Option<SenderBody>,
}

impl HttpBody for Prebuffered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(frame) = this.head.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }
}

/// Reads `body` until it ends or [`PREBUFFER`] bytes arrived, under its deadline; the
/// error (timed out, too large, malformed) comes before anything reaches an agent.
pub async fn prebuffer(mut body: SenderBody) -> Result<Prebuffered, BoxError> {
    let mut head = VecDeque::new();
    let mut buffered = 0;
    while buffered < PREBUFFER {
        match body.frame().await {
            Some(frame) => {
                let frame = frame?;
                buffered += frame.data_ref().map_or(0, Bytes::len);
                head.push_back(frame);
            }
            None => return Ok(Prebuffered { head, rest: None }),
        }
    }
    Ok(Prebuffered {
        head,
        rest: Some(body),
    })
}
