//! The demo's sample receiver: a small webhook handler on loopback that checks every
//! delivery's signature with hooktap's own [`Verifier`] (the same secrets the demo signs
//! with) and answers as a careful app would: 2xx when valid, 401 for a signature that does
//! not match, 400 for a stale or unsigned delivery, each with the reason in a JSON body.
//!
//! One handler is broken on purpose: the first valid delivery to [`Receiver::flaky`]'s
//! path gets a 500, as if the app had a bug; every later one succeeds (the bug is
//! "fixed"), so replaying the failed delivery from the inspector then works.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::exchange::{Body, RecordedRequest, unix_micros};
use crate::signature::{Verdict, Verifier};

/// The largest body the receiver reads; sample events are a few KB.
const MAX_BODY_BYTES: usize = 1 << 20;

/// What the receiver knows: the secrets, and the handler that fails once.
struct State {
    verifier: Verifier,
    flaky_path: String,
    /// Still broken: the next valid delivery to `flaky_path` fails.
    broken: AtomicBool,
}

/// A bound receiver, ready to [`run`](Receiver::run).
pub struct Receiver {
    listener: TcpListener,
    state: Arc<State>,
}

impl Receiver {
    /// Binds `addr`; deliveries are checked with `verifier`, and the first valid one to
    /// `flaky_path` fails with a 500.
    pub async fn bind(
        addr: SocketAddr,
        verifier: Verifier,
        flaky_path: &str,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not start the sample receiver on {addr}"))?;
        Ok(Self {
            listener,
            state: Arc::new(State {
                verifier,
                flaky_path: flaky_path.to_string(),
                broken: AtomicBool::new(true),
            }),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the receiver's address")
    }

    /// The path whose handler fails once.
    pub fn flaky(&self) -> &str {
        &self.state.flaky_path
    }

    /// Serves until `shutdown` is cancelled, then waits for the connections in flight.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::debug!(%err, "the receiver's accept failed");
                        continue;
                    }
                },
            };
            let state = self.state.clone();
            let shutdown = shutdown.clone();
            tracker.spawn(async move {
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => if let Err(err) = result {
                        tracing::debug!(%err, "a receiver connection ended with an error");
                    },
                    _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
                }
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) => return answer(StatusCode::BAD_REQUEST, "unreadable body", &err.to_string()),
    };
    let request = RecordedRequest {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        version: format!("{:?}", parts.version),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: Body::full(body.to_vec()),
    };
    let now = unix_micros(SystemTime::now()).div_euclid(1_000_000);
    let verdict = state.verifier.check(&request, None, now);
    respond(state, parts.uri.path(), verdict)
}

/// The answer for a delivery to `path` with `verdict`.
fn respond(state: &State, path: &str, verdict: Option<Verdict>) -> Response<Full<Bytes>> {
    match verdict {
        Some(Verdict::Valid { provider }) => {
            if path == state.flaky_path && state.broken.swap(false, Ordering::SeqCst) {
                return answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "handler crashed",
                    "orders: database is locked (the demo's bug: fixed now, replay it)",
                );
            }
            let body = json!({ "ok": true, "verified": provider }).to_string();
            reply(StatusCode::OK, body)
        }
        Some(Verdict::Invalid { reason, .. }) => {
            answer(StatusCode::UNAUTHORIZED, "invalid signature", &reason)
        }
        Some(Verdict::Expired {
            skew_secs,
            tolerance_secs,
            ..
        }) => answer(
            StatusCode::BAD_REQUEST,
            "stale delivery",
            &format!("signed {skew_secs}s ago, past the {tolerance_secs}s tolerance"),
        ),
        Some(Verdict::MissingHeader { header, .. }) => answer(
            StatusCode::BAD_REQUEST,
            "unsigned delivery",
            &format!("no {header} header"),
        ),
        Some(Verdict::NoSecret { provider }) => answer(
            StatusCode::BAD_REQUEST,
            "unknown sender",
            &format!("no secret for {provider}"),
        ),
        None => answer(
            StatusCode::BAD_REQUEST,
            "unsigned delivery",
            "no signature header",
        ),
    }
}

/// `{"error": error, "reason": reason}` with `status`.
fn answer(status: StatusCode, error: &str, reason: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        json!({ "error": error, "reason": reason }).to_string(),
    )
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            verifier: Verifier::default(),
            flaky_path: "/webhooks/shopify".into(),
            broken: AtomicBool::new(true),
        }
    }

    fn status(response: &Response<Full<Bytes>>) -> u16 {
        response.status().as_u16()
    }

    #[test]
    fn verdicts_map_to_answers_and_the_flaky_handler_fails_once() {
        let state = state();
        let valid = || {
            Some(Verdict::Valid {
                provider: "shopify".into(),
            })
        };
        assert_eq!(status(&respond(&state, "/webhooks/github", valid())), 200);
        assert_eq!(status(&respond(&state, "/webhooks/shopify", valid())), 500);
        assert_eq!(status(&respond(&state, "/webhooks/shopify", valid())), 200);
        let invalid = Verdict::invalid("github", None, "no match");
        assert_eq!(status(&respond(&state, "/", Some(invalid))), 401);
        let expired = Verdict::Expired {
            provider: "stripe".into(),
            skew_secs: 3600,
            tolerance_secs: 300,
        };
        assert_eq!(status(&respond(&state, "/", Some(expired))), 400);
        assert_eq!(status(&respond(&state, "/", None)), 400);
    }
}
