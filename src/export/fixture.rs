//! The fixture format of `export --fixture`: recorded requests as a JSON file (bodies in
//! base64) that `replay --from-file` (`replay/fixture.rs`) sends again, so captures become
//! a test suite.

use std::path::Path;

use anyhow::Context;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::exchange::{
    Body, Exchange, ExchangeId, Header, RecordedRequest, RecordedResponse, Source,
};

/// The fixture format version this build writes and reads.
pub const FIXTURE_VERSION: u32 = 1;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A header value: text when it is UTF-8, base64 otherwise.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// UTF-8 text.
    Text(String),
    /// Other bytes.
    Bytes {
        /// The bytes in base64.
        base64: String,
    },
}

/// One request in a fixture, with the response it got when recorded.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The recorded exchange's id.
    #[serde(default)]
    pub id: Option<String>,
    /// When it was received (RFC 3339).
    #[serde(default)]
    pub received_at: Option<String>,
    /// The full URL it was sent to.
    pub target: String,
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers in order, duplicates kept: `[name, value]`.
    pub headers: Vec<(String, Value)>,
    /// The body bytes in base64.
    pub body_base64: String,
    /// The response when recorded, to compare a replay's with.
    #[serde(default)]
    pub response: Option<Response>,
}

/// A recorded response.
#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, Value)>,
    /// The body bytes in base64.
    pub body_base64: String,
}

/// A whole fixture file.
#[derive(Debug, Deserialize)]
pub struct Fixture {
    /// Format version.
    pub hooktap_fixture: u32,
    /// The requests, in the order they were received.
    pub requests: Vec<Entry>,
}

/// What comes before the entries.
pub fn prefix() -> String {
    format!("{{\"hooktap_fixture\":{FIXTURE_VERSION},\"requests\":[\n")
}

/// What comes after the entries.
pub const SUFFIX: &str = "\n]}\n";

fn to_values(headers: &[Header]) -> Vec<(String, Value)> {
    headers
        .iter()
        .map(|(n, v)| {
            let value = match std::str::from_utf8(v) {
                Ok(text) => Value::Text(text.to_string()),
                Err(_) => Value::Bytes {
                    base64: B64.encode(v),
                },
            };
            (n.clone(), value)
        })
        .collect()
}

fn from_values(headers: Vec<(String, Value)>) -> anyhow::Result<Vec<Header>> {
    headers
        .into_iter()
        .map(|(n, v)| {
            let bytes = match v {
                Value::Text(text) => text.into_bytes(),
                Value::Bytes { base64 } => B64
                    .decode(base64)
                    .with_context(|| format!("the {n} header's base64 value is damaged"))?,
            };
            Ok((n.to_ascii_lowercase(), bytes))
        })
        .collect()
}

/// The fixture entry for `ex` (already redacted as wanted).
pub fn entry(ex: &Exchange) -> Entry {
    Entry {
        id: Some(ex.id.to_string()),
        received_at: Some(crate::exchange::format_time(ex.received_at_us)),
        target: ex.target.clone(),
        method: ex.request.method.clone(),
        uri: ex.request.uri.clone(),
        headers: to_values(&ex.request.headers),
        body_base64: B64.encode(&ex.request.body.bytes),
        response: ex.response.as_ref().map(|r| Response {
            status: r.status,
            headers: to_values(&r.headers),
            body_base64: B64.encode(&r.body.bytes),
        }),
    }
}

/// Reads a fixture file, checking its version.
pub fn read(path: &Path) -> anyhow::Result<Fixture> {
    let text = std::fs::read(path)
        .with_context(|| format!("could not read the fixture {}", path.display()))?;
    let fixture: Fixture = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a hooktap fixture (write one with `hooktap export --fixture`)",
            path.display()
        )
    })?;
    if fixture.hooktap_fixture > FIXTURE_VERSION {
        anyhow::bail!(
            "{} was written by a newer hooktap (fixture version {}); upgrade hooktap",
            path.display(),
            fixture.hooktap_fixture
        );
    }
    Ok(fixture)
}

/// The fixture entry as an exchange (its recorded response included), ready to replay.
pub fn to_exchange(entry: Entry) -> anyhow::Result<Exchange> {
    let body = B64
        .decode(&entry.body_base64)
        .context("a request body's base64 is damaged")?;
    let response = match entry.response {
        Some(r) => Some(RecordedResponse {
            status: r.status,
            headers: from_values(r.headers)?,
            body: Body::full(
                B64.decode(&r.body_base64)
                    .context("a response body's base64 is damaged")?,
            ),
        }),
        None => None,
    };
    Ok(Exchange {
        id: entry
            .id
            .map(|id| ExchangeId(id.to_ascii_lowercase()))
            .unwrap_or_else(ExchangeId::generate),
        received_at_us: entry
            .received_at
            .and_then(|t| humantime::parse_rfc3339_weak(&t).ok())
            .map_or(0, crate::exchange::unix_micros),
        source: Source::Local,
        public_url: None,
        target: entry.target,
        request: RecordedRequest {
            method: entry.method,
            uri: entry.uri,
            version: "HTTP/1.1".into(),
            headers: from_values(entry.headers)?,
            body: Body::full(body),
        },
        response,
        ttfb_us: None,
        duration_us: 0,
        error: None,
        replay_of: None,
        verdict: None,
    })
}
