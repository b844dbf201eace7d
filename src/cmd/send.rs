//! `hooktap send`: post a signed sample event (or your own body) and print the answer.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::{StatusCode, Uri};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::{UsageError, emit};
use crate::cli::SendArgs;
use crate::events::{self, Event, Mode};
use crate::exchange::{RecordedRequest, unix_micros};
use crate::output::{human_duration_us, human_size};
use crate::signature::{Secret, Verifier};
use crate::tunnel::dial::{BoxIo, client_config};

/// Where `send` posts when no --to is given: `listen`'s default capture address.
const DEFAULT_TO: &str = "http://127.0.0.1:4747";
/// Lines of the answer's body shown, and characters per line.
const PREVIEW_LINES: usize = 10;
const PREVIEW_WIDTH: usize = 200;

/// Runs `hooktap send`.
pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    if args.list {
        return Ok(emit(list().as_bytes())?);
    }
    let name = args.event.as_deref().unwrap_or_default();
    let event = choose(name, args.body.is_some()).map_err(UsageError)?;
    let body =
        match &args.body {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                UsageError(format!("could not read --body {}: {e}", path.display()))
            })?),
            None => None,
        };
    let verifier = verifier_for(&args, event.provider)?;
    let dest = Destination::parse(args.to.as_deref(), &event.path).map_err(UsageError)?;
    let mode = match (args.tamper, args.stale) {
        (true, _) => Mode::Tamper,
        (_, true) => Mode::Stale,
        _ => Mode::Valid,
    };
    let now = unix_micros(SystemTime::now()) / 1_000_000;
    let mut req = events::prepare(&event, body, &verifier, &dest.url, now, mode)
        .map_err(|e| UsageError(format!("cannot sign {}: {e}", event.name)))?;
    req.uri = dest.path_and_query.clone();
    let how = match mode {
        Mode::Valid => format!("signed for {}", event.provider),
        Mode::Tamper => "body changed after signing: the signature does not match".into(),
        Mode::Stale => format!(
            "signed {} ago: outside {}'s tolerance",
            humantime::format_duration(std::time::Duration::from_secs(events::STALE_SECS as u64)),
            event.provider
        ),
    };
    let id = events::delivery_id(&req).map_or_else(String::new, |id| format!("{id}, "));
    emit(format!("hooktap: sent {} to {} ({id}{how})\n", event.name, dest.url).as_bytes())?;

    let started = Instant::now();
    let answer = tokio::time::timeout(args.timeout, post(&dest, &req, args.relay_ca.as_deref()))
        .await
        .map_err(|_| {
            anyhow!(
                "nothing answered: {} did not answer within {}",
                dest.url,
                humantime::format_duration(args.timeout)
            )
        })?
        .with_context(|| format!("nothing answered at {}", dest.url))?;
    let (status, body) = answer;
    let took = human_duration_us(started.elapsed().as_micros() as i64);
    let mut out = format!(
        "{} {} in {took}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    out.push_str(&preview(&body));
    Ok(emit(out.as_bytes())?)
}

/// The event named `name`; a bare provider only with --body (its first event's headers).
fn choose(name: &str, own_body: bool) -> Result<Event, String> {
    let event = events::find(name)?;
    if !own_body && !name.contains('.') {
        let names: Vec<&str> = events::all()
            .into_iter()
            .filter(|e| e.provider == event.provider)
            .map(|e| e.name)
            .collect();
        return Err(format!(
            "name one of {}'s events: {} (or send your own with --body FILE)",
            event.provider,
            names.join(", ")
        ));
    }
    Ok(event)
}

/// `--list`: every event, what it is, and how to send one.
fn list() -> String {
    let events = events::all();
    let width = events.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for event in &events {
        let _ = writeln!(out, "{:width$}  {}", event.name, event.about);
    }
    out.push_str(
        "\nhooktap send EVENT [--to PORT|URL]; the secret from --secret, --verify PROVIDER=SECRET or hooktap.toml\n",
    );
    out
}

/// A verifier that signs as `provider`: `--secret`, else `--verify` or hooktap.toml.
fn verifier_for(args: &SendArgs, provider: &str) -> anyhow::Result<Verifier> {
    if let Some(text) = &args.secret {
        let secret = Secret::for_provider(provider, text.expose()).map_err(UsageError)?;
        return Ok(Verifier::new(
            [(provider.to_string(), secret)],
            Vec::new(),
            Some(provider.to_string()),
        ));
    }
    let all = args.secret_args().verifier()?;
    if !all.configured().any(|p| p == provider) {
        return Err(UsageError(format!(
            "no {provider} secret to sign with: pass --secret SECRET or --verify {provider}=SECRET, or add it to hooktap.toml"
        ))
        .into());
    }
    Ok(all.pinned(provider))
}

/// Where the event goes.
#[derive(Debug, PartialEq, Eq)]
struct Destination {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path_and_query: String,
    /// The whole URL, for messages and schemes that sign it.
    url: String,
}

impl Destination {
    /// `--to`: a port, or an http(s) URL; with no path, the event's `path` is added.
    fn parse(to: Option<&str>, path: &str) -> Result<Self, String> {
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

/// Posts `req` on a new connection and reads the whole answer.
async fn post(
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

/// The first lines of an answer's body, each cut to a screen's width.
fn preview(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return format!("({}, binary)\n", human_size(body.len() as u64));
    };
    let mut out = String::new();
    let mut shown = 0;
    for line in text.lines().take(PREVIEW_LINES) {
        let cut: String = line.chars().take(PREVIEW_WIDTH).collect();
        shown += line.len() + 1;
        out.push_str(&cut);
        if cut.len() < line.len() {
            out.push('…');
        }
        out.push('\n');
    }
    if shown < text.len() {
        let rest = human_size((text.len() - shown) as u64);
        let _ = writeln!(out, "… ({rest} more)");
    }
    out
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

    #[test]
    fn previews_show_the_first_lines() {
        assert_eq!(preview(b""), "");
        assert_eq!(preview(b"{\"ok\":true}"), "{\"ok\":true}\n");
        let long: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let shown = preview(long.as_bytes());
        assert!(shown.starts_with("line 0\n"));
        assert!(shown.contains("line 9\n") && !shown.contains("line 10\n"));
        assert!(shown.ends_with("more)\n"), "{shown}");
        assert_eq!(preview(&[0xff, 0xfe]), "(2 B, binary)\n");
    }

    #[test]
    fn a_bare_provider_needs_a_body() {
        let err = choose("github", false).unwrap_err();
        assert!(
            err.contains("github.push") && err.contains("--body"),
            "{err}"
        );
        assert_eq!(choose("github", true).unwrap().name, "github.push");
    }
}
