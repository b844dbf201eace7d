//! The agent's side of a queued delivery: each queued request is forwarded once, and the
//! answer to the relay ends with the [`proto::TRAILER_COMMITTED`] trailer only after the
//! exchange's record is committed, so the relay keeps the entry until then. A request
//! whose queued id is already recorded (the relay did not hear the first time) is
//! answered at once, without reaching the app again; one still in progress (the tunnel
//! dropped and the relay sent it again) waits for the first delivery's record.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::oneshot;

use super::protocol as proto;
use crate::capture::{Forwarder, RequestMeta};
use crate::exchange::Exchange;
use crate::web::body::{BoxBody, BoxError};

/// The queued deliveries in progress, by queued id; cheap to clone.
#[derive(Clone, Default)]
pub struct Deliveries(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl Deliveries {
    /// Waits until no other delivery of `queued_id` is in progress, and marks this one.
    async fn begin(&self, queued_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            // Entries nobody holds or waits for are done.
            map.retain(|_, lock| Arc::strong_count(lock) > 1);
            map.entry(queued_id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Forwards the queued request `queued_id`, unless it was recorded before.
pub async fn deliver(
    forwarder: &Forwarder,
    deliveries: &Deliveries,
    req: Request<Incoming>,
    mut meta: RequestMeta,
    queued_id: String,
) -> Response<BoxBody> {
    // Held until this delivery's record is committed (or given up), even when the tunnel
    // that brought it is gone, so a second delivery sees the first one's record.
    let guard = deliveries.begin(&queued_id).await;
    match forwarder.store().queued_record(&queued_id).await {
        Ok(Some(id)) => {
            tracing::info!(%queued_id, record = %id, "queued request already delivered; not sent to the app again");
            let mut trailers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(id.as_str()) {
                trailers.insert(proto::TRAILER_COMMITTED, value);
            }
            let body = http_body_util::Full::new(bytes::Bytes::new())
                .map_err(|never| match never {})
                .with_trailers(async move { Some(Ok(trailers)) })
                .boxed_unsync();
            return Response::new(body);
        }
        Ok(None) => {}
        // Not knowing, deliver: a duplicate is better than a loss.
        Err(err) => tracing::warn!("could not look up queued request {queued_id}: {err:#}"),
    }
    meta.queued_id = Some(queued_id);
    let (tx, committed) = oneshot::channel();
    let (told, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok(ex) = committed.await {
            let _ = told.send(ex);
        }
        drop(guard);
    });
    let response = forwarder.forward_then(req, meta, Some(tx)).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, CommitBody::new(body, rx).boxed_unsync())
}

/// The app's response body, then the commit trailer once the record is committed. The
/// inner body (a TeeBody the record waits for) is dropped as soon as it ends, before the
/// commit is awaited, so the two never wait for each other.
struct CommitBody {
    inner: Option<BoxBody>,
    commit: Option<oneshot::Receiver<Arc<Exchange>>>,
    trailers: Option<HeaderMap>,
}

impl CommitBody {
    fn new(inner: BoxBody, commit: oneshot::Receiver<Arc<Exchange>>) -> Self {
        Self {
            inner: Some(inner),
            commit: Some(commit),
            trailers: None,
        }
    }
}

impl HttpBody for CommitBody {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, BoxError>>> {
        let this = &mut *self;
        while let Some(inner) = this.inner.as_mut() {
            match Pin::new(inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_trailers() {
                    // The app's own trailers go out with the commit trailer.
                    Ok(trailers) => this.trailers = Some(trailers),
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Poll::Ready(Some(Err(err))) => {
                    this.inner = None;
                    this.commit = None;
                    return Poll::Ready(Some(Err(err)));
                }
                // Dropping the finished body lets the record be written.
                Poll::Ready(None) => this.inner = None,
            }
        }
        let Some(commit) = this.commit.as_mut() else {
            return Poll::Ready(None);
        };
        let committed = match Pin::new(commit).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result.ok(),
        };
        this.commit = None;
        let mut trailers = this.trailers.take().unwrap_or_default();
        // Only a record of the app's answer counts as delivered; when the app could not
        // be reached the relay keeps the entry and tries again.
        match committed.filter(|ex| ex.response.is_some()) {
            Some(ex) => {
                if let Ok(value) = HeaderValue::from_str(ex.id.as_str()) {
                    trailers.insert(proto::TRAILER_COMMITTED, value);
                }
            }
            None if trailers.is_empty() => return Poll::Ready(None),
            None => {}
        }
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_none() && self.commit.is_none() && self.trailers.is_none()
    }
}
