//! Delivering a sample event: where it goes ([`Destination`]), the signed request for that
//! place ([`Outgoing::new`]) and one POST on a new connection ([`post`]). `hooktap send`
//! and `hooktap demo` both send through here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::{StatusCode, Uri};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::{Event, Mode, STALE_SECS, delivery_id, prepare};
use crate::exchange::RecordedRequest;
use crate::signature::Verifier;
use crate::tunnel::dial::{BoxIo, client_config};

/// Where `send` posts when no destination is given: `listen`'s default capture address.
pub const DEFAULT_TO: &str = "http://127.0.0.1:4747";

/// Where an event goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path_and_query: String,
    /// The whole URL, for messages and schemes that sign it.
    pub url: String,
}

impl Destination {
    /// A port (`5000`) or an http(s) URL (default [`DEFAULT_TO`]); with no path, the
    /// event's `path` is added. The error is one sentence for the user.
    pub fn parse(to: Option<&str>, path: &str) -> Result<Self, String> {
        let text = to.unwrap_or(DEFAULT_TO).trim();
        let text = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            format!("http://127.0.0.1:{text}")
        } else {
            text.to_string()
        };
        let bad = || format!("--to '{text}' is neither a port (5000) nor an http(s):// URL");
        let uri: Uri = text.parse().map_err(|_| bad())?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad()),
        };
        let authority = uri.authority().ok_or_else(bad)?.to_string();
        let host = uri
            .host()
            .ok_or_else(bad)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = match uri.port_u16() {
            Some(0) => return Err(bad()),
            Some(port) => port,
            None if https => 443,
            None => 80,
        };
        let given = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let path_and_query = if given == "/" { path } else { given }.to_string();
        let scheme = if https { "https" } else { "http" };
        Ok(Self {
            url: format!("{scheme}://{authority}{path_and_query}"),
            https,
            host,
            port,
            authority,
            path_and_query,
        })
    }
}

/// A signed request ready to post, and what to say about it.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Where it goes.
    pub dest: Destination,
    /// The request, its URI the destination's path.
    pub request: RecordedRequest,
    /// How it was signed, for a person: `signed for github`, `body changed after signing…`.
    pub how: String,
    /// The delivery's id, if it carries one.
    pub id: Option<String>,
}

impl Outgoing {
    /// `event` (with `body` in place of the sample's) for `to` (as [`Destination::parse`]
    /// reads it), signed by `verifier` (pinned to the event's provider) at `now` (unix
    /// seconds) as `mode` says. The error is one sentence for the user.
    pub fn new(
        event: &Event,
        body: Option<Vec<u8>>,
        verifier: &Verifier,
        to: Option<&str>,
        now: i64,
        mode: Mode,
    ) -> Result<Self, String> {
        let dest = Destination::parse(to, &event.path)?;
        let mut request = prepare(event, body, verifier, &dest.url, now, mode)
            .map_err(|e| format!("cannot sign {}: {e}", event.name))?;
        request.uri = dest.path_and_query.clone();
        let how = match mode {
            Mode::Valid => format!("signed for {}", event.provider),
            Mode::Tamper => "body changed after signing: the signature does not match".into(),
            Mode::Stale => format!(
                "signed {} ago: outside {}'s tolerance",
                humantime::format_duration(Duration::from_secs(STALE_SECS as u64)),
                event.provider
            ),
        };
        let id = delivery_id(&request);
        Ok(Self {
            dest,
            request,
            how,
            id,
        })
    }
}

/// What came back.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
    /// From the connect to the last byte.
    pub took: Duration,
}

/// Posts `out` on a new connection and reads the whole answer, within `timeout`; `ca` is
/// trusted for an https:// destination. The error says nothing answered, and why.
pub async fn post(
    out: &Outgoing,
    timeout: Duration,
    ca: Option<&std::path::Path>,
) -> anyhow::Result<Answer> {
    let started = Instant::now();
    let (status, body) = tokio::time::timeout(timeout, exchange(&out.dest, &out.request, ca))
        .await
        .map_err(|_| {
            anyhow!(
                "nothing answered: {} did not answer within {}",
                out.dest.url,
                humantime::format_duration(timeout)
            )
        })?
        .with_context(|| format!("nothing answered at {}", out.dest.url))?;
    Ok(Answer {
        status,
        body,
        took: started.elapsed(),
    })
}

async fn exchange(
    dest: &Destination,
    req: &RecordedRequest,
    ca: Option<&std::path::Path>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut request = crate::replay::build_request(req).map_err(|e| anyhow!(e))?;
    let host = HeaderValue::from_str(&dest.authority).context("the host is not a header")?;
    request.headers_mut().insert(HOST, host);
    let tcp = TcpStream::connect((dest.host.as_str(), dest.port))
        .await
        .with_context(|| format!("could not connect to {}", dest.authority))?;
    tcp.set_nodelay(true)?;
    let io: BoxIo =
        if dest.https {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(ca)?));
            let name = ServerName::try_from(dest.host.clone())
                .map_err(|_| anyhow!("'{}' is not a valid TLS server name", dest.host))?;
            Box::new(connector.connect(name, tcp).await.context(
                "the TLS handshake failed (for a self-signed certificate pass --relay-ca)",
            )?)
        } else {
            Box::new(tcp)
        };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_take_ports_urls_and_the_events_path() {
        let local = Destination::parse(None, "/webhooks/github").unwrap();
        assert_eq!(local.url, "http://127.0.0.1:4747/webhooks/github");
        let port = Destination::parse(Some("5000"), "/w").unwrap();
        assert_eq!(
            (port.host.as_str(), port.port, port.url.as_str()),
            ("127.0.0.1", 5000, "http://127.0.0.1:5000/w")
        );
        let relay = Destination::parse(Some("https://relay.example/t/myapp"), "/w").unwrap();
        assert!(relay.https);
        assert_eq!(
            (relay.port, relay.path_and_query.as_str()),
            (443, "/t/myapp")
        );
        let bare = Destination::parse(Some("http://localhost:8080/"), "/w").unwrap();
        assert_eq!(bare.url, "http://localhost:8080/w");
        for bad in ["ftp://x", "five", "http://x:0/"] {
            assert!(Destination::parse(Some(bad), "/").is_err(), "{bad}");
        }
    }
}
