//! The readable view of one exchange, as tagged text lines per tab: JSON pretty-printed
//! in the sender's key order, form bodies as fields, binary as a hex dump, the cut-body
//! notice and the verdict explained. Built off the UI thread; rendering only reads it.
//! It uses the pieces `hooktap show` prints with (`output`, `signature::explain`).

use crate::exchange::{Body, Exchange, Header, format_time, header_value};
use crate::output::{hex_dump, human_duration_us, human_size};
use crate::signature::{Verdict, explain};
use crate::web::message::raw_request;

use super::json::json_lines;
pub use super::tone::{Line, Tone};

/// Body bytes shown per body; the rest is named, not drawn.
pub const SHOWN_BODY_BYTES: usize = 256 * 1024;

/// The detail pane's tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Request line, headers, body.
    Request,
    /// Status, headers, body.
    Response,
    /// The verdict explained.
    Signature,
    /// The exact bytes.
    Raw,
    /// Times, source, target.
    Timing,
}

impl Tab {
    /// Every tab in order.
    pub const ALL: [Tab; 5] = [
        Tab::Request,
        Tab::Response,
        Tab::Signature,
        Tab::Raw,
        Tab::Timing,
    ];

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Request => "Request",
            Tab::Response => "Response",
            Tab::Signature => "Signature",
            Tab::Raw => "Raw",
            Tab::Timing => "Timing",
        }
    }

    /// The next (or previous) tab, wrapping.
    pub fn step(self, forward: bool) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        let n = Tab::ALL.len();
        Tab::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// A record ready to show.
#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeView {
    /// The record's id number.
    pub id: u64,
    /// Lines per tab, in [`Tab::ALL`] order.
    pub tabs: [Vec<Line>; 5],
}

impl ExchangeView {
    /// The view of `ex`.
    pub fn new(ex: &Exchange) -> Self {
        Self {
            id: ex.id.to_u64().unwrap_or(0),
            tabs: [
                request(ex),
                response(ex),
                signature(ex),
                raw(ex),
                timing(ex),
            ],
        }
    }

    /// The lines of `tab`.
    pub fn tab(&self, tab: Tab) -> &[Line] {
        let i = Tab::ALL.iter().position(|t| *t == tab).unwrap_or(0);
        &self.tabs[i]
    }
}

fn plain(text: impl Into<String>) -> Line {
    vec![(Tone::Plain, text.into())]
}

fn field(label: &str, tone: Tone, value: impl Into<String>) -> Line {
    vec![(Tone::Dim, format!("{label:<10}")), (tone, value.into())]
}

/// The tone of a status code.
pub fn status_tone(status: Option<u16>) -> Tone {
    match status {
        Some(200..=299) => Tone::Good,
        Some(300..=499) => Tone::Warn,
        _ => Tone::Bad,
    }
}

fn headers(out: &mut Vec<Line>, headers: &[Header]) {
    for (name, value) in headers {
        out.push(vec![
            (Tone::Key, format!("{name}: ")),
            (Tone::Plain, String::from_utf8_lossy(value).into_owned()),
        ]);
    }
}

fn request(ex: &Exchange) -> Vec<Line> {
    let req = &ex.request;
    let mut out = vec![vec![
        (Tone::Key, format!("{} ", req.method)),
        (Tone::Plain, format!("{} ", req.uri)),
        (Tone::Dim, req.version.clone()),
    ]];
    headers(&mut out, &req.headers);
    out.push(Vec::new());
    out.extend(body_lines(&req.body, req.header("content-type")));
    out
}

fn response(ex: &Exchange) -> Vec<Line> {
    let Some(resp) = &ex.response else {
        let mut out = vec![vec![(Tone::Bad, "no response".to_string())]];
        if let Some(error) = &ex.error {
            out.push(field("error", Tone::Bad, error.clone()));
        }
        return out;
    };
    let mut out = vec![vec![(
        status_tone(Some(resp.status)),
        resp.status.to_string(),
    )]];
    headers(&mut out, &resp.headers);
    out.push(Vec::new());
    out.extend(body_lines(
        &resp.body,
        header_value(&resp.headers, "content-type"),
    ));
    out
}

/// A body for reading: JSON pretty and tagged, form fields, text, or a hex dump; the
/// cut-body notice last.
pub fn body_lines(body: &Body, content_type: Option<&str>) -> Vec<Line> {
    if body.bytes.is_empty() && body.size == 0 {
        return vec![vec![(Tone::Dim, "(empty body)".to_string())]];
    }
    let shown = &body.bytes[..body.bytes.len().min(SHOWN_BODY_BYTES)];
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let mut out = match as_text(shown) {
        Ok(text) if ct.contains("json") || looks_like_json(text) => {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value) => json_lines(&serde_json::to_string_pretty(&value).unwrap_or_default()),
                Err(_) => text.lines().map(plain).collect(),
            }
        }
        Ok(text) if ct.contains("x-www-form-urlencoded") => form_lines(text),
        Ok(text) => text.lines().map(plain).collect(),
        Err(_) => hex_dump(shown).lines().map(plain).collect(),
    };
    if shown.len() < body.bytes.len() {
        out.push(vec![(
            Tone::Warn,
            format!(
                "[showing the first {} of {}: `hooktap show --raw ID` prints it all]",
                human_size(shown.len() as u64),
                human_size(body.bytes.len() as u64)
            ),
        )]);
    }
    if body.truncated() {
        out.push(vec![(
            Tone::Warn,
            format!(
                "[stored {} of {}: the body was cut at the capture limit]",
                human_size(body.bytes.len() as u64),
                human_size(body.size)
            ),
        )]);
    }
    out
}

/// The bytes as text, unless they are not UTF-8 or hold control characters other than
/// tabs and line ends (binary data that happens to be valid UTF-8).
fn as_text(bytes: &[u8]) -> Result<&str, ()> {
    let text = std::str::from_utf8(bytes).map_err(|_| ())?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(());
    }
    Ok(text)
}

fn looks_like_json(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

fn form_lines(text: &str) -> Vec<Line> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| crate::web::form::percent_decode(&s.replace('+', " "));
            vec![
                (Tone::Key, format!("{} = ", decode(k))),
                (Tone::Str, decode(v)),
            ]
        })
        .collect()
}

/// One sentence on the likely cause of a verdict that is not valid.
pub fn likely_cause(verdict: &Verdict) -> Option<&'static str> {
    Some(match verdict {
        Verdict::Valid { .. } => return None,
        Verdict::Invalid {
            expected: Some(_),
            received: Some(_),
            ..
        } => "wrong secret, or the body changed on the way",
        Verdict::Invalid { .. } => "the signature header is malformed",
        Verdict::Expired { .. } => {
            "stale timestamp: an old delivery, a replay, or a clock out of step"
        }
        Verdict::MissingHeader { .. } => {
            "the sender did not sign it, or a proxy dropped the header"
        }
        Verdict::NoSecret { .. } => "no secret configured for this provider",
    })
}

fn signature(ex: &Exchange) -> Vec<Line> {
    let Some(verdict) = &ex.verdict else {
        return vec![
            vec![(
                Tone::Dim,
                "no signature checked: no known provider's headers, or none configured".to_string(),
            )],
            vec![(
                Tone::Dim,
                "pass --verify PROVIDER=SECRET (or hooktap.toml) to check them".to_string(),
            )],
        ];
    };
    let tone = match verdict {
        Verdict::Valid { .. } => Tone::Good,
        Verdict::Invalid { .. } => Tone::Bad,
        _ => Tone::Warn,
    };
    let mark = match verdict {
        Verdict::Valid { .. } => "✓",
        Verdict::Invalid { .. } => "✗",
        _ => "!",
    };
    let mut out = vec![
        field("provider", Tone::Plain, verdict.provider()),
        field("verdict", tone, format!("{mark} {}", verdict.label())),
    ];
    if let Some(cause) = likely_cause(verdict) {
        out.push(field("cause", tone, cause));
    }
    match verdict {
        Verdict::Expired {
            skew_secs,
            tolerance_secs,
            ..
        } => {
            out.push(field(
                "skew",
                Tone::Warn,
                format!("{skew_secs:+}s (tolerance {tolerance_secs}s)"),
            ));
        }
        Verdict::MissingHeader { header, .. } => {
            out.push(field("header", Tone::Plain, header.clone()))
        }
        _ => {}
    }
    if !matches!(verdict, Verdict::NoSecret { .. }) {
        out.push(field(
            "secret",
            Tone::Dim,
            format!(
                "the configured {} secret (by name; never shown)",
                verdict.provider()
            ),
        ));
    }
    out.push(Vec::new());
    // The same explanation `hooktap verify` and `hooktap show` print.
    out.extend(explain(verdict).lines().map(plain));
    out
}

fn raw(ex: &Exchange) -> Vec<Line> {
    let bytes = raw_request(ex);
    let shown = &bytes[..bytes.len().min(SHOWN_BODY_BYTES)];
    let mut out: Vec<Line> = match as_text(shown) {
        Ok(text) => text
            .split('\n')
            .map(|l| plain(l.trim_end_matches('\r')))
            .collect(),
        Err(_) => hex_dump(shown).lines().map(plain).collect(),
    };
    if shown.len() < bytes.len() {
        out.push(vec![(
            Tone::Warn,
            format!(
                "[showing the first {} of {}]",
                human_size(shown.len() as u64),
                human_size(bytes.len() as u64)
            ),
        )]);
    }
    if ex.request.body.truncated() {
        out.push(vec![(
            Tone::Warn,
            format!(
                "[stored {} of {}: the body was cut at the capture limit]",
                human_size(ex.request.body.bytes.len() as u64),
                human_size(ex.request.body.size)
            ),
        )]);
    }
    out
}

fn timing(ex: &Exchange) -> Vec<Line> {
    let mut out = vec![
        field("id", Tone::Plain, ex.id.0.clone()),
        field("received", Tone::Plain, format_time(ex.received_at_us)),
        field("source", Tone::Plain, ex.source.as_str()),
    ];
    if let Some(url) = &ex.public_url {
        out.push(field("public", Tone::Plain, url.clone()));
    }
    out.push(field("target", Tone::Plain, ex.target_label().to_string()));
    if let Some(ttfb) = ex.ttfb_us {
        out.push(field(
            "headers",
            Tone::Plain,
            format!(
                "{} (until the app's response headers)",
                human_duration_us(ttfb)
            ),
        ));
    }
    out.push(field(
        "total",
        Tone::Plain,
        human_duration_us(ex.duration_us),
    ));
    if let Some(of) = &ex.replay_of {
        out.push(field("replay of", Tone::Plain, of.0.clone()));
    }
    if let Some(error) = &ex.error {
        out.push(field("error", Tone::Bad, error.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_the_senders_key_order_and_tags_every_character() {
        let body = Body::full(br#"{"z":1,"a":{"s":"x\"y","t":true,"n":null,"f":-1.5e3}}"#.to_vec());
        let lines = body_lines(&body, Some("application/json"));
        let text: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|(_, s)| s.as_str()).collect())
            .collect();
        let value: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(
            text.join("\n"),
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert!(text[1].contains("\"z\""), "z first, as sent: {text:?}");
        assert_eq!(lines[1][1], (Tone::Key, "\"z\"".to_string()));
        assert!(
            lines[3].contains(&(Tone::Str, r#""x\"y""#.to_string())),
            "{:?}",
            lines[3]
        );
        assert!(lines[4].contains(&(Tone::Lit, "true".to_string())));
    }

    #[test]
    fn forms_binary_and_cut_bodies() {
        let form = body_lines(
            &Body::full(b"a=1&b=hello+world%21".to_vec()),
            Some("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            form[1],
            vec![
                (Tone::Key, "b = ".to_string()),
                (Tone::Str, "hello world!".to_string())
            ]
        );
        let bin = body_lines(&Body::full(vec![0, 159, 146, 150]), None);
        assert!(bin[0][0].1.starts_with("00000000  00 9f 92 96"));
        let cut = body_lines(
            &Body {
                bytes: b"abc".to_vec(),
                size: 10,
            },
            None,
        );
        assert!(cut[1][0].1.contains("cut at the capture limit"));
    }
}
