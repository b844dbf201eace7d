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

use crate::capture::Target;
use crate::web::body::BoxBody;

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
        req: Request<BoxBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let (response, sender) = send_on(self.take(), target, req).await?;
        self.put(sender);
        Ok(response)
    }
}

/// Sends `req` on `kept` if it is still open, else on a new connection; a request that a
/// kept connection could not take (the app closed it meanwhile) goes once more on a fresh
/// one. Returns the response and the connection it came on.
pub(crate) async fn send_on(
    mut kept: Option<SendRequest<BoxBody>>,
    target: &Target,
    mut req: Request<BoxBody>,
) -> Result<(Response<Incoming>, SendRequest<BoxBody>), UpstreamError> {
    loop {
        let reused = match kept.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let fresh = reused.is_none();
        let mut sender = match reused {
            Some(sender) => sender,
            None => connect(target).await.map_err(UpstreamError::Connect)?,
        };
        match sender.try_send_request(req).await {
            Ok(response) => return Ok((response, sender)),
            Err(mut err) => match err.take_message() {
                Some(unsent) if !fresh => req = unsent,
                _ => return Err(UpstreamError::Send(err.into_error())),
            },
        }
    }
}

/// Opens an HTTP/1.1 connection to `target`, its driver on a task of its own.
async fn connect(target: &Target) -> anyhow::Result<SendRequest<BoxBody>> {
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
