//! The agent's way out: TCP (with `TCP_NODELAY`), TLS for `wss://` and the WebSocket
//! upgrade to the relay's tunnel path.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use http::Uri;
use http::header::{AUTHORIZATION, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::protocol::{TUNNEL_PATH, ws_config};
use super::wsio::{Role, WsIo};

/// A byte stream to the relay: plain TCP or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The boxed stream under the agent's WebSocket.
pub type BoxIo = Box<dyn Io>;

/// Knows how to reach one relay.
pub struct Dialer {
    tunnel_url: String,
    host: String,
    port: u16,
    tls: Option<TlsConnector>,
    timeout: Duration,
}

impl Dialer {
    /// Parses `relay` (`ws://host:port`, `wss://host`, or http(s) equivalents) and loads
    /// the roots to trust: `ca` if given, else the system's.
    pub fn new(relay: &str, ca: Option<&Path>, timeout: Duration) -> anyhow::Result<Self> {
        let uri: Uri = relay.trim().parse().map_err(|_| {
            anyhow!("--relay '{relay}' is not a URL: use e.g. ws://localhost:8080 or wss://relay.example.com")
        })?;
        let secure = match uri.scheme_str() {
            Some("ws" | "http") => false,
            Some("wss" | "https") => true,
            _ => anyhow::bail!(
                "--relay '{relay}' must start with ws://, wss://, http:// or https://"
            ),
        };
        let host = uri
            .host()
            .ok_or_else(|| anyhow!("--relay '{relay}' has no host name"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let base = uri.path().trim_end_matches('/');
        let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
        let scheme = if secure { "wss" } else { "ws" };
        let tunnel_url = format!("{scheme}://{authority}{base}{TUNNEL_PATH}");
        let tls = if secure {
            Some(TlsConnector::from(Arc::new(client_config(ca)?)))
        } else {
            None
        };
        Ok(Self {
            tunnel_url,
            host,
            port,
            tls,
            timeout,
        })
    }

    /// The URL dialled, for messages.
    pub fn url(&self) -> &str {
        &self.tunnel_url
    }

    /// Opens the WebSocket (the upgrade done by tungstenite), presenting `token` as a
    /// bearer token.
    pub async fn dial(&self, token: Option<&str>) -> anyhow::Result<WsIo<BoxIo>> {
        tokio::time::timeout(self.timeout, self.dial_inner(token))
            .await
            .map_err(|_| {
                anyhow!(
                    "the relay at {} did not answer within {}",
                    self.tunnel_url,
                    humantime::format_duration(self.timeout)
                )
            })?
    }

    async fn dial_inner(&self, token: Option<&str>) -> anyhow::Result<WsIo<BoxIo>> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("could not reach the relay at {}", self.tunnel_url))?;
        // Nagle plus delayed ACK costs ~40 ms per small request (DESIGN §8).
        tcp.set_nodelay(true)?;
        let io: BoxIo = match &self.tls {
            None => Box::new(tcp),
            Some(connector) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|_| anyhow!("'{}' is not a valid TLS server name", self.host))?;
                let tls = connector.connect(name, tcp).await.with_context(|| {
                    format!(
                        "the TLS handshake with {} failed (for a self-signed relay pass --relay-ca)",
                        self.tunnel_url
                    )
                })?;
                Box::new(tls)
            }
        };
        let mut request = self.tunnel_url.as_str().into_client_request()?;
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| anyhow!("the token contains characters not allowed in a header"))?;
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        match tokio_tungstenite::client_async_with_config(request, io, Some(ws_config())).await {
            // The relay sends nothing after its 101 until the hello, so tungstenite holds
            // no unread bytes: the framing continues on the raw stream.
            Ok((ws, _)) => Ok(WsIo::new(ws.into_inner(), Role::Client)),
            // A relay's refusal before the upgrade (too many handshakes from this address)
            // carries its sentence; anything else is probably not a relay.
            Err(WsError::Http(response)) => match relay_sentence(&response) {
                Some(sentence) => Err(anyhow!(
                    "the relay at {} refused the tunnel: {sentence}",
                    self.tunnel_url
                )),
                None => Err(anyhow!(
                    "{} answered {} instead of opening a tunnel: is it a hooktap relay?",
                    self.tunnel_url,
                    response.status()
                )),
            },
            Err(err) => Err(anyhow::Error::new(err)
                .context(format!("could not open the tunnel to {}", self.tunnel_url))),
        }
    }
}

/// The one sentence of a hooktap relay's error answer (`hooktap: …`), if it is one.
fn relay_sentence(response: &http::Response<Option<Vec<u8>>>) -> Option<String> {
    let body = std::str::from_utf8(response.body().as_deref()?).ok()?;
    let sentence = body.strip_prefix("hooktap: ")?.trim();
    (response.status() == http::StatusCode::TOO_MANY_REQUESTS && !sentence.is_empty())
        .then(|| sentence.to_string())
}

pub(crate) fn client_config(ca: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<_, _>>())
                .map_err(|err| anyhow!("could not read --relay-ca {}: {err}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("--relay-ca {} holds no PEM certificate", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|err| anyhow!("--relay-ca {}: {err}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                anyhow::bail!(
                    "no trusted root certificates found on this system: pass --relay-ca PEM"
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
