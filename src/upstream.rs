//! A dedicated HTTP/1.1 connection to the app for each inbound HTTP/1.1 connection.
//!
//! An HTTP/1.1 sender sends one request at a time, so pairing each inbound connection with
//! one connection to the app needs no pool: no pool lock, no per-request task to return the
//! connection, and the app sees as many connections as the senders opened.

use std::sync::Mutex;

use anyhow::Context;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::BoxBody;
use crate::target::Target;

/// Why a request could not be delivered on the dedicated connection.
#[derive(Debug)]
pub enum UpstreamError {
    /// The app could not be reached.
    Connect(anyhow::Error),
    /// The app was reached but did not answer.
    Send(hyper::Error),
}

/// One inbound connection's connection to the app, opened on first use.
#[derive(Default, Debug)]
pub struct Upstream {
    sender: Mutex<Option<SendRequest<BoxBody>>>,
}

impl Upstream {
    /// An upstream with no connection yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn take(&self) -> Option<SendRequest<BoxBody>> {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, sender: SendRequest<BoxBody>) {
        *self.sender.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
    }

    /// Sends `req` (origin-form URI, `Host` set) to `target`, reusing the connection when
    /// it is still open and opening a new one when not.
    pub async fn send(
        &self,
        target: &Target,
        mut req: Request<BoxBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        // A kept connection may have been closed by the app since; one fresh try then.
        let mut fresh = false;
        loop {
            let kept = match self.take() {
                Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
                None => None,
            };
            let mut sender = match kept {
                Some(sender) => sender,
                None => {
                    fresh = true;
                    connect(target).await.map_err(UpstreamError::Connect)?
                }
            };
            match sender.try_send_request(req).await {
                Ok(response) => {
                    self.put(sender);
                    return Ok(response);
                }
                Err(mut err) => match err.take_message() {
                    Some(unsent) if !fresh => {
                        req = unsent;
                        fresh = true;
                    }
                    _ => return Err(UpstreamError::Send(err.into_error())),
                },
            }
        }
    }
}

/// Opens an HTTP/1.1 connection to `target`, its driver on a task of its own.
pub(crate) async fn connect(target: &Target) -> anyhow::Result<SendRequest<BoxBody>> {
    let authority = target.authority().as_str();
    let stream = TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    // Nagle plus delayed ACK adds ~40 ms per small request (DESIGN §8).
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            tracing::debug!(%err, "connection to the app ended");
        }
    });
    Ok(sender)
}
