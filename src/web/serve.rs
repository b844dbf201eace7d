//! Serving one inbound HTTP/1.1 connection until it closes, or until a shutdown lets the
//! exchange in flight finish and then closes it (the capture listener and the API).

use std::error::Error as StdError;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves `stream` with `service` until the peer closes it, or until `shutdown` is
/// cancelled and the request in flight (if any) has been answered. `what` names the
/// listener in the debug line an error leaves.
pub async fn http1_until_shutdown<S, B>(
    stream: TcpStream,
    service: S,
    shutdown: &CancellationToken,
    what: &str,
) where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                debug!(%err, "{what} connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
