//! Streaming bodies that keep a capped copy of what passes through them.
//!
//! A [`TeeBody`] forwards every frame unchanged and copies at most `cap` bytes aside. When
//! the stream ends, fails or is dropped half-way, it hands the copy to a [`BodySink`]
//! exactly once, so the record is complete however the exchange ended.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::exchange::Body;

/// Any error a forwarded body can carry.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type hooktap sends: boxed so live, replayed and synthesised bodies mix.
pub type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// How a captured body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEnd {
    /// The whole stream passed.
    Complete,
    /// The stream failed with this error.
    Failed(String),
    /// The reader stopped before the end (peer went away, or the app answered early).
    Abandoned,
}

/// Receives a captured body once its stream is over.
pub trait BodySink: Send + Sync + 'static {
    /// Called exactly once with the captured bytes and how the stream ended.
    fn finish(&self, body: Body, end: BodyEnd);
}

/// A body that forwards `inner` and captures up to `cap` bytes of it.
pub struct TeeBody<B> {
    inner: Option<B>,
    captured: Vec<u8>,
    size: u64,
    cap: usize,
    sink: Option<Box<dyn BodySink>>,
    reclaim: Option<oneshot::Sender<TeeBody<B>>>,
}

impl<B> TeeBody<B> {
    /// Wraps `inner`; `sink` gets the capture when the stream is over.
    pub fn new(inner: B, cap: usize, sink: Box<dyn BodySink>) -> Self {
        Self {
            inner: Some(inner),
            captured: Vec::new(),
            size: 0,
            cap,
            sink: Some(sink),
            reclaim: None,
        }
    }

    /// Like [`TeeBody::new`], but if the body is dropped before its end while the receiver
    /// is alive, the unread rest arrives there instead of being lost: when the app is
    /// down, the request body is still read and recorded.
    pub fn reclaimable(
        inner: B,
        cap: usize,
        sink: Box<dyn BodySink>,
    ) -> (Self, oneshot::Receiver<TeeBody<B>>) {
        let (tx, rx) = oneshot::channel();
        let mut body = Self::new(inner, cap, sink);
        body.reclaim = Some(tx);
        (body, rx)
    }

    fn finish(&mut self, end: BodyEnd) {
        // Once finished there is nothing left to reclaim: let a waiting receiver go.
        self.reclaim = None;
        if let Some(sink) = self.sink.take() {
            let body = Body {
                bytes: std::mem::take(&mut self.captured),
                size: self.size,
            };
            sink.finish(body, end);
        }
    }
}

impl<B> HttpBody for TeeBody<B>
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
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.finish(BodyEnd::Complete);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(err))) => {
                let err: BoxError = err.into();
                this.finish(BodyEnd::Failed(err.to_string()));
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.size += data.len() as u64;
                    let room = this.cap.saturating_sub(this.captured.len());
                    if room > 0 {
                        let take = room.min(data.len());
                        if this.captured.capacity() == 0 {
                            // Size the buffer once from the first frame's hint.
                            let hint = this.size_hint().lower() as usize + data.len();
                            this.captured.reserve(hint.min(this.cap));
                        }
                        this.captured.extend_from_slice(&data[..take]);
                    }
                }
                if this.is_end_stream() {
                    this.finish(BodyEnd::Complete);
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl<B> Drop for TeeBody<B> {
    fn drop(&mut self) {
        if self.sink.is_some()
            && let (Some(reclaim), Some(inner)) = (self.reclaim.take(), self.inner.take())
        {
            let rest = TeeBody {
                inner: Some(inner),
                captured: std::mem::take(&mut self.captured),
                size: self.size,
                cap: self.cap,
                sink: self.sink.take(),
                reclaim: None,
            };
            // If nobody is waiting, the rest is dropped here and reports Abandoned.
            let _ = reclaim.send(rest);
            return;
        }
        self.finish(BodyEnd::Abandoned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Probe(Arc<Mutex<Vec<(Body, BodyEnd)>>>);
    impl BodySink for Probe {
        fn finish(&self, body: Body, end: BodyEnd) {
            self.0.lock().unwrap().push((body, end));
        }
    }

    #[tokio::test]
    async fn passes_everything_and_captures_up_to_the_cap() {
        let probe = Probe::default();
        let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = (0..4)
            .map(|i| Ok(Frame::data(Bytes::from(vec![i as u8; 10]))))
            .collect();
        let inner = StreamBody::new(futures_util::stream::iter(chunks));
        let tee = TeeBody::new(inner, 15, Box::new(probe.clone()));
        let all = tee.collect().await.unwrap().to_bytes();
        assert_eq!(all.len(), 40);
        let seen = probe.0.lock().unwrap();
        assert_eq!(seen.len(), 1, "the sink is called exactly once");
        assert_eq!(seen[0].0.size, 40);
        assert_eq!(seen[0].0.bytes, [vec![0u8; 10], vec![1u8; 5]].concat());
        assert!(seen[0].0.truncated());
        assert_eq!(seen[0].1, BodyEnd::Complete);
    }

    #[tokio::test]
    async fn a_dropped_body_reports_abandoned() {
        let probe = Probe::default();
        let tee = TeeBody::new(
            Full::new(Bytes::from_static(b"abc")),
            100,
            Box::new(probe.clone()),
        );
        drop(tee);
        let seen = probe.0.lock().unwrap();
        assert_eq!(seen[0].1, BodyEnd::Abandoned);
        assert_eq!(seen[0].0.size, 0);
    }
}
