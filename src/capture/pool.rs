//! Connections to the app shared by requests that bring none of their own: tunnel streams,
//! replays (to the recorded target or `--to`) and the API.
//!
//! A request takes an idle HTTP/1.1 connection (or opens one) and the connection comes back
//! when the app's response body has been read to its end, so no task per request waits to
//! return it (hyper-util's pool spends one; on the tunnel that was a measurable share of
//! the agent's CPU). A response dropped half-way takes its connection with it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::capture::Target;
use crate::capture::upstream::{UpstreamError, send_on};
use crate::web::body::BoxBody;

/// Idle connections kept at most (all targets together); more are closed when they come
/// back.
const MAX_IDLE: usize = 64;

/// Idle connections, each with the authority (`host:port`) it goes to.
#[derive(Default)]
pub struct UpstreamPool {
    idle: Mutex<Vec<(Authority, SendRequest<BoxBody>)>>,
}

impl UpstreamPool {
    /// An empty pool.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// An idle connection, preferring one that can take a request at once (one given back
    /// a moment ago may still be finishing its previous exchange).
    fn take(&self, authority: &Authority) -> Option<SendRequest<BoxBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(_, sender)| !sender.is_closed());
        let to = |a: &Authority| a == authority;
        let index = idle
            .iter()
            .rposition(|(a, sender)| to(a) && sender.is_ready())
            .or_else(|| idle.iter().rposition(|(a, _)| to(a)))?;
        Some(idle.swap_remove(index).1)
    }

    fn give_back(&self, authority: Authority, sender: SendRequest<BoxBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((authority, sender));
        }
    }

    /// Sends `req` (origin-form URI, `Host` set) to `target` on an idle connection or a new
    /// one. The response's body gives the connection back when it ends.
    pub async fn send(
        self: &Arc<Self>,
        target: &Target,
        req: Request<BoxBody>,
    ) -> Result<Response<GiveBack>, UpstreamError> {
        let authority = target.authority();
        let (response, sender) = send_on(self.take(authority), target, req).await?;
        let (parts, body) = response.into_parts();
        let back = Back {
            authority: authority.clone(),
            sender,
            pool: self.clone(),
        };
        Ok(Response::from_parts(parts, GiveBack::new(body, back)))
    }
}

/// The app's response body; a pooled one gives its connection back once read to the end.
pub struct GiveBack {
    inner: Incoming,
    back: Option<Back>,
}

/// A pooled connection on its way back.
struct Back {
    authority: Authority,
    sender: SendRequest<BoxBody>,
    pool: Arc<UpstreamPool>,
}

impl GiveBack {
    /// A body whose connection is not the pool's.
    pub fn plain(inner: Incoming) -> Self {
        Self { inner, back: None }
    }

    fn new(inner: Incoming, back: Back) -> Self {
        let mut body = Self {
            inner,
            back: Some(back),
        };
        // An empty body may never be polled: the connection is free already.
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some(back) = self.back.take() {
            back.pool.give_back(back.authority, back.sender);
        }
    }
}

impl HttpBody for GiveBack {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            // A failed body leaves the connection in an unknown state: it is not reused.
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    use super::*;

    /// An app that answers `hello` and counts the connections it accepted.
    async fn app() -> (Target, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Target::parse(&listener.local_addr().unwrap().port().to_string()).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"hello"),
                        )))
                    }),
                ));
            }
        });
        (target, accepted)
    }

    fn request() -> Request<BoxBody> {
        let body = Full::new(Bytes::from_static(b"{}"))
            .map_err(|never| match never {})
            .boxed_unsync();
        Request::post("/hook")
            .header("host", "app")
            .body(body)
            .unwrap()
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_is_read_and_not_when_dropped() {
        let (target, accepted) = app().await;
        let pool = UpstreamPool::new();
        for _ in 0..5 {
            let response = pool.send(&target, request()).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.as_ref(), b"hello");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for five"
        );

        // Two at once need two connections; both come back.
        let (a, b) = tokio::join!(pool.send(&target, request()), pool.send(&target, request()));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        a.into_body().collect().await.unwrap();
        b.into_body().collect().await.unwrap();

        // A response dropped unread takes its connection with it.
        drop(pool.send(&target, request()).await.unwrap());
        drop(pool.send(&target, request()).await.unwrap());
        let third = pool.send(&target, request()).await.unwrap();
        third.into_body().collect().await.unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            3,
            "a third, fresh connection"
        );
    }

    #[tokio::test]
    async fn connections_go_back_to_their_own_target() {
        let ((a, a_accepted), (b, b_accepted)) = (app().await, app().await);
        let pool = UpstreamPool::new();
        for target in [&a, &b, &a, &b] {
            let response = pool.send(target, request()).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
        assert_eq!(a_accepted.load(Ordering::SeqCst), 1);
        assert_eq!(b_accepted.load(Ordering::SeqCst), 1);
    }
}
