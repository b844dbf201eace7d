//! How exchanges are shown: the headless log line, JSON, the `show` view and the raw
//! HTTP/1.1 message. One place, so the CLI, the NDJSON events and the API agree.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Value, json};

use serde::Serialize;

use crate::exchange::{Body, Exchange, ExchangeId, Header, Source, format_time};
use crate::signature::Verdict;
use crate::store::Summary;

/// A byte count for people: `512 B`, `1.2 KiB`, `20.0 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Milliseconds for people: `0.4ms`, `12ms`, `2.31s`.
pub fn human_duration_us(micros: i64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

/// `  sig:valid (stripe)`, or nothing when the exchange has no verdict.
pub fn verdict_badge(ex: &Exchange) -> String {
    match &ex.verdict {
        Some(v) => format!("  sig:{} ({})", v.label().replace(' ', "-"), v.provider()),
        None => String::new(),
    }
}

/// The headless log line: time, source, method, path, status, duration, size, id, verdict.
pub fn log_line(ex: &Exchange) -> String {
    let time = format_time(ex.received_at_us);
    let clock = time.get(11..23).unwrap_or(&time);
    let status = ex
        .status()
        .map_or_else(|| "ERR".to_string(), |s| s.to_string());
    let mut line = format!(
        "{clock} {:<6} {:<6} {} {status} {} {} {}{}",
        ex.source.as_str(),
        ex.request.method,
        ex.request.uri,
        human_duration_us(ex.duration_us),
        human_size(ex.request.body.size),
        ex.id,
        verdict_badge(ex),
    );
    if let Some(error) = &ex.error {
        let _ = write!(line, "  error: {error}");
    }
    line
}

/// The NDJSON `request` event.
#[derive(Serialize)]
pub struct RequestEvent<'a> {
    event: &'static str,
    id: &'a ExchangeId,
    time: String,
    source: Source,
    method: &'a str,
    path: &'a str,
    status: Option<u16>,
    duration_ms: f64,
    request_size: u64,
    response_size: Option<u64>,
    error: Option<&'a str>,
    replay_of: Option<&'a ExchangeId>,
    verdict: Option<&'a Verdict>,
}

impl<'a> RequestEvent<'a> {
    /// The event for `ex`.
    pub fn new(ex: &'a Exchange) -> Self {
        Self {
            event: "request",
            id: &ex.id,
            time: format_time(ex.received_at_us),
            source: ex.source,
            method: &ex.request.method,
            path: &ex.request.uri,
            status: ex.status(),
            duration_ms: ex.duration_us as f64 / 1000.0,
            request_size: ex.request.body.size,
            response_size: ex.response.as_ref().map(|r| r.body.size),
            error: ex.error.as_deref(),
            replay_of: ex.replay_of.as_ref(),
            verdict: ex.verdict.as_ref(),
        }
    }
}

/// The NDJSON `request` event as a JSON value.
pub fn request_event(ex: &Exchange) -> Value {
    serde_json::to_value(RequestEvent::new(ex)).unwrap_or(Value::Null)
}

fn headers_json(headers: &[Header]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(n, v)| json!([n, String::from_utf8_lossy(v)]))
            .collect(),
    )
}

fn body_json(body: &Body) -> Value {
    json!({
        "text": std::str::from_utf8(&body.bytes).ok(),
        "base64": base64::engine::general_purpose::STANDARD.encode(&body.bytes),
        "size": body.size,
        "truncated": body.truncated(),
    })
}

/// The whole exchange as JSON (`show --json`, the API).
pub fn exchange_json(ex: &Exchange) -> Value {
    json!({
        "id": ex.id,
        "time": format_time(ex.received_at_us),
        "received_at_us": ex.received_at_us,
        "source": ex.source,
        "public_url": ex.public_url,
        "target": ex.target,
        "request": {
            "method": ex.request.method,
            "uri": ex.request.uri,
            "version": ex.request.version,
            "headers": headers_json(&ex.request.headers),
            "body": body_json(&ex.request.body),
        },
        "response": ex.response.as_ref().map(|r| json!({
            "status": r.status,
            "headers": headers_json(&r.headers),
            "body": body_json(&r.body),
        })),
        "ttfb_ms": ex.ttfb_us.map(|t| t as f64 / 1000.0),
        "duration_ms": ex.duration_us as f64 / 1000.0,
        "error": ex.error,
        "replay_of": ex.replay_of,
        "verdict": ex.verdict,
        "failed": ex.failed(),
    })
}

/// The `requests` table.
pub fn summary_table(rows: &[Summary]) -> String {
    let mut out = format!(
        "{:<12}  {:<23}  {:<6}  {:<6}  {:<6}  {:>8}  {:>9}  {}\n",
        "ID", "TIME", "SOURCE", "METHOD", "STATUS", "DURATION", "SIZE", "PATH"
    );
    for row in rows {
        let status = row.status.map_or_else(|| "ERR".into(), |s| s.to_string());
        let _ = writeln!(
            out,
            "{:<12}  {:<23}  {:<6}  {:<6}  {:<6}  {:>8}  {:>9}  {}{}",
            row.id,
            row.time,
            row.source.as_str(),
            row.method,
            status,
            human_duration_us((row.duration_ms * 1000.0) as i64),
            human_size(row.request_size),
            row.path,
            row.verdict
                .as_ref()
                .map(|v| format!("  sig:{}", v.label().replace(' ', "-")))
                .unwrap_or_default(),
        );
    }
    out
}

/// A body for reading: pretty JSON, text, or a hex dump for binary data.
pub fn body_for_reading(body: &Body, content_type: Option<&str>) -> String {
    let mut out = String::new();
    if body.bytes.is_empty() && body.size == 0 {
        return "(empty body)\n".into();
    }
    let is_json = content_type.is_some_and(|ct| ct.contains("json"));
    match std::str::from_utf8(&body.bytes) {
        Ok(text) if is_json => match serde_json::from_str::<Value>(text) {
            Ok(value) => out.push_str(&serde_json::to_string_pretty(&value).unwrap_or_default()),
            Err(_) => out.push_str(text),
        },
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&hex_dump(&body.bytes)),
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if body.truncated() {
        let _ = writeln!(
            out,
            "[stored {} of {}: the body was cut at the capture limit]",
            human_size(body.bytes.len() as u64),
            human_size(body.size)
        );
    }
    out
}

/// `offset  hex bytes  |ascii|`, 16 bytes a line.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push(' ');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

/// The `show` view.
pub fn show(ex: &Exchange) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "id        {}", ex.id);
    let _ = writeln!(
        out,
        "received  {} ({})",
        format_time(ex.received_at_us),
        ex.source.as_str()
    );
    if let Some(url) = &ex.public_url {
        let _ = writeln!(out, "public    {url}");
    }
    let _ = writeln!(out, "target    {}", ex.target_label());
    let _ = writeln!(out, "duration  {}", human_duration_us(ex.duration_us));
    if let Some(of) = &ex.replay_of {
        let _ = writeln!(out, "replay of {of}");
    }
    if let Some(v) = &ex.verdict {
        // As `verify` explains it: expected and received, header, signed bytes, skew.
        for (i, line) in crate::signature::explain(v).lines().enumerate() {
            let label = if i == 0 { "signature" } else { "" };
            let _ = writeln!(out, "{label:<9} {line}");
        }
    }
    if let Some(error) = &ex.error {
        let _ = writeln!(out, "error     {error}");
    }
    let _ = writeln!(
        out,
        "\n{} {} {}",
        ex.request.method, ex.request.uri, ex.request.version
    );
    for (n, v) in &ex.request.headers {
        let _ = writeln!(out, "{n}: {}", String::from_utf8_lossy(v));
    }
    out.push('\n');
    out.push_str(&body_for_reading(
        &ex.request.body,
        ex.request.header("content-type"),
    ));
    match &ex.response {
        Some(r) => {
            let _ = writeln!(out, "\n--- response\n{}", r.status);
            for (n, v) in &r.headers {
                let _ = writeln!(out, "{n}: {}", String::from_utf8_lossy(v));
            }
            out.push('\n');
            let ct = crate::exchange::header_value(&r.headers, "content-type");
            out.push_str(&body_for_reading(&r.body, ct));
        }
        None => out.push_str("\n--- no response\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(verdict: Verdict) -> Exchange {
        Exchange {
            verdict: Some(verdict),
            ..Exchange::for_test("/")
        }
    }

    #[test]
    fn show_explains_the_verdict_as_verify_does() {
        let invalid = Verdict::Invalid {
            provider: "github".into(),
            reason: "the signature does not match".into(),
            header: Some("x-hub-signature-256".into()),
            expected: Some("sha256=aa".into()),
            received: Some("sha256=bb".into()),
            signed: Some("\"{body}\"".into()),
        };
        let text = show(&exchange(invalid));
        for line in [
            "signature invalid (github): the signature does not match\n",
            "            header:   x-hub-signature-256\n",
            "            expected: sha256=aa\n",
            "            received: sha256=bb\n",
            "            signed:   \"{body}\"\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        let expired = Verdict::Expired {
            provider: "stripe".into(),
            skew_secs: 400,
            tolerance_secs: 300,
        };
        let text = show(&exchange(expired));
        assert!(text.contains("400s old; the tolerance is 300s"), "{text}");
    }
}
