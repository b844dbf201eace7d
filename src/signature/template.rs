//! Schemes of one HMAC over a template of the request (`{timestamp}.{body}`, `{url}{body}`…):
//! GitHub, Slack, Shopify, Zoom, Twitch, Square, HubSpot, Linear and the generic ones.

// A verdict is the error path here: it is returned once per request, so its size is fine.
#![allow(clippy::result_large_err)]

use crate::exchange::{Body, RecordedRequest};

use super::ctx::{Ctx, SignError, set_header};
use super::mac::{self, Algorithm, Encoding, Freshness, TimeFormat};
use super::{MacCheck, Verdict};

/// One piece of a signed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Text(String),
    /// The raw body bytes.
    Body,
    /// The timestamp exactly as sent.
    Timestamp,
    /// The message id header's value.
    Id,
    /// The full URL the sender called.
    Url,
    /// The HTTP method.
    Method,
}

/// Parses `{timestamp}.{body}` into parts; placeholders: body, timestamp, id, url, method.
pub fn parse_template(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("template '{text}' has a '{{' without '}}'"))?;
        parts.push(match &rest[open + 1..open + close] {
            "body" => Part::Body,
            "timestamp" => Part::Timestamp,
            "id" => Part::Id,
            "url" => Part::Url,
            "method" => Part::Method,
            other => {
                return Err(format!(
                    "template placeholder {{{other}}} is unknown; use {{body}}, {{timestamp}}, {{id}}, {{url}} or {{method}}"
                ));
            }
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// Where a scheme's signed timestamp lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StampSource {
    /// A header, e.g. `x-slack-request-timestamp`.
    Header(String),
    /// A top-level JSON number in the body, in milliseconds (Linear's `webhookTimestamp`).
    BodyMillis(&'static str),
}

/// A signed timestamp: where, in what format, and the tolerance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Where it is.
    pub source: StampSource,
    /// How it is written.
    pub format: TimeFormat,
    /// Tolerance in seconds; `None` means the time is signed but not checked.
    pub tolerance_secs: Option<i64>,
    /// Whether future timestamps are also out of tolerance.
    pub both_ways: bool,
}

/// A scheme of one HMAC over a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateScheme {
    /// Signature headers, lowercase, first present wins (Shopify has two spellings).
    pub headers: Vec<String>,
    /// Text before the MAC in the header, e.g. `sha256=`.
    pub prefix: String,
    /// The hash.
    pub algorithm: Algorithm,
    /// How the MAC is written.
    pub encoding: Encoding,
    /// What is signed.
    pub template: Vec<Part>,
    /// The signed timestamp, when the scheme has one.
    pub stamp: Option<Stamp>,
    /// The message id header, when the template uses `{id}`.
    pub id_header: Option<String>,
}

impl TemplateScheme {
    /// A scheme over the raw body only.
    pub fn body(header: &str, prefix: &str, algorithm: Algorithm, encoding: Encoding) -> Self {
        TemplateScheme {
            headers: vec![header.to_string()],
            prefix: prefix.to_string(),
            algorithm,
            encoding,
            template: vec![Part::Body],
            stamp: None,
            id_header: None,
        }
    }

    fn signature_header<'r>(&'r self, ctx: &'r Ctx<'_>) -> Option<(&'r str, &'r str)> {
        self.headers
            .iter()
            .find_map(|h| ctx.req.header(h).map(|v| (h.as_str(), v)))
    }

    /// The timestamp text and its parsed value, or the verdict that explains its absence.
    fn stamp_text(&self, ctx: &Ctx<'_>) -> Result<Option<(String, i64)>, Verdict> {
        let Some(stamp) = &self.stamp else {
            return Ok(None);
        };
        let text = match &stamp.source {
            StampSource::Header(name) => ctx
                .req
                .header(name)
                .ok_or_else(|| Verdict::missing(ctx.provider, name))?
                .to_string(),
            StampSource::BodyMillis(field) => {
                body_number(&ctx.req.body.bytes, field).ok_or_else(|| {
                    Verdict::invalid(
                        ctx.provider,
                        None,
                        format!("the body has no numeric {field}, which the scheme requires"),
                    )
                })?
            }
        };
        let Some(at) = stamp.format.parse(&text) else {
            let name = match &stamp.source {
                StampSource::Header(name) => name.as_str(),
                StampSource::BodyMillis(field) => field,
            };
            return Err(Verdict::invalid(
                ctx.provider,
                Some(name),
                format!("{name} is not a valid timestamp"),
            ));
        };
        Ok(Some((text, at)))
    }

    /// The signed bytes and their description; errors are verdicts (missing id, no URL).
    fn signed(&self, ctx: &Ctx<'_>, stamp: Option<&str>) -> Result<(Vec<u8>, String), Verdict> {
        let mut bytes = Vec::new();
        let mut pattern = String::new();
        let mut values = Vec::new();
        for part in &self.template {
            match part {
                Part::Text(text) => {
                    bytes.extend_from_slice(text.as_bytes());
                    pattern.push_str(text);
                }
                Part::Body => {
                    bytes.extend_from_slice(&ctx.req.body.bytes);
                    pattern.push_str("{body}");
                    values.push(format!("body {} bytes", ctx.req.body.bytes.len()));
                }
                Part::Timestamp => {
                    let text = stamp.unwrap_or_default();
                    bytes.extend_from_slice(text.as_bytes());
                    pattern.push_str("{timestamp}");
                    values.push(format!("timestamp={text}"));
                }
                Part::Id => {
                    let name = self.id_header.as_deref().unwrap_or("id");
                    let id = ctx
                        .req
                        .header(name)
                        .ok_or_else(|| Verdict::missing(ctx.provider, name))?;
                    bytes.extend_from_slice(id.as_bytes());
                    pattern.push_str("{id}");
                    values.push(format!("id={id}"));
                }
                Part::Url => {
                    let url = ctx.url.ok_or_else(|| {
                        Verdict::invalid(
                            ctx.provider,
                            None,
                            "this scheme signs the public URL the sender called; pass it with --url",
                        )
                    })?;
                    bytes.extend_from_slice(url.as_bytes());
                    pattern.push_str("{url}");
                    values.push(format!("url={url}"));
                }
                Part::Method => {
                    bytes.extend_from_slice(ctx.req.method.as_bytes());
                    pattern.push_str("{method}");
                    values.push(format!("method={}", ctx.req.method));
                }
            }
        }
        Ok((bytes, format!("\"{pattern}\" with {}", values.join(", "))))
    }

    /// The verdict for the request in `ctx`.
    pub(crate) fn verify(&self, ctx: &Ctx<'_>) -> Verdict {
        let Some((header, value)) = self.signature_header(ctx) else {
            return Verdict::missing(ctx.provider, &self.headers[0]);
        };
        let stamp = match self.stamp_text(ctx) {
            Ok(stamp) => stamp,
            Err(verdict) => return verdict,
        };
        let (bytes, signed) = match self.signed(ctx, stamp.as_ref().map(|(t, _)| t.as_str())) {
            Ok(signed) => signed,
            Err(verdict) => return verdict,
        };
        let expected = mac::encode(
            self.encoding,
            &mac::hmac(self.algorithm, ctx.secret.bytes(), &[&bytes]),
        );
        let received = value.trim().strip_prefix(self.prefix.as_str());
        let freshness = self.stamp.as_ref().zip(stamp).and_then(|(s, (_, at))| {
            s.tolerance_secs.map(|tolerance_secs| Freshness {
                signed_at: at,
                tolerance_secs,
                both_ways: s.both_ways,
            })
        });
        MacCheck {
            provider: ctx.provider,
            header,
            expected: format!("{}{expected}", self.prefix),
            received: received
                .map(|r| vec![format!("{}{r}", self.prefix)])
                .unwrap_or_default(),
            signed,
            freshness,
        }
        .verdict(ctx.now)
    }

    /// Replaces the signature (and timestamp and id) headers so the request verifies at `now`.
    pub(crate) fn sign(&self, ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
        if let Some(stamp) = &self.stamp {
            let text = stamp.format.format(ctx.now);
            match &stamp.source {
                StampSource::Header(name) => set_header(req, name, &text),
                StampSource::BodyMillis(field) => {
                    req.body = Body::full(
                        replace_body_number(&req.body.bytes, field, &text).ok_or_else(|| {
                            SignError::Unsupported(
                                ctx.provider.to_string(),
                                format!("the body has no numeric {field} to refresh"),
                            )
                        })?,
                    );
                }
            }
        }
        if let Some(id) = &self.id_header
            && self.template.contains(&Part::Id)
        {
            set_header(req, id, &mac::fresh_id(""));
        }
        let view = ctx.with(req);
        let stamp = self
            .stamp_text(&view)
            .map_err(|v| SignError::from_verdict(ctx.provider, v))?;
        let (bytes, _) = self
            .signed(&view, stamp.as_ref().map(|(t, _)| t.as_str()))
            .map_err(|v| SignError::from_verdict(ctx.provider, v))?;
        let value = mac::encode(
            self.encoding,
            &mac::hmac(self.algorithm, ctx.secret.bytes(), &[&bytes]),
        );
        let header = self
            .headers
            .iter()
            .find(|h| req.header(h).is_some())
            .unwrap_or(&self.headers[0])
            .clone();
        set_header(req, &header, &format!("{}{value}", self.prefix));
        Ok(())
    }
}

/// The digits of top-level-looking `"field": 123` in a JSON body.
fn body_number(body: &[u8], field: &str) -> Option<String> {
    let (start, end) = number_span(body, field)?;
    Some(String::from_utf8_lossy(&body[start..end]).into_owned())
}

/// `body` with the number after `"field":` replaced by `value`.
fn replace_body_number(body: &[u8], field: &str, value: &str) -> Option<Vec<u8>> {
    let (start, end) = number_span(body, field)?;
    let mut out = body[..start].to_vec();
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&body[end..]);
    Some(out)
}

fn number_span(body: &[u8], field: &str) -> Option<(usize, usize)> {
    let key = format!("\"{field}\"");
    let at = body.windows(key.len()).position(|w| w == key.as_bytes())? + key.len();
    let mut i = at;
    while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    if body.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    let start = i;
    while body
        .get(i)
        .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
    {
        i += 1;
    }
    (i > start).then_some((start, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        assert_eq!(
            parse_template("v0:{timestamp}:{body}"),
            Ok(vec![
                Part::Text("v0:".into()),
                Part::Timestamp,
                Part::Text(":".into()),
                Part::Body
            ])
        );
        assert!(parse_template("{nope}").is_err());
        assert!(parse_template("{body").is_err());
    }

    #[test]
    fn body_numbers_are_found_and_replaced() {
        let body = br#"{"a":1,"webhookTimestamp" : 1749999996000}"#;
        assert_eq!(
            body_number(body, "webhookTimestamp").as_deref(),
            Some("1749999996000")
        );
        let new = replace_body_number(body, "webhookTimestamp", "5").expect("present");
        assert_eq!(new, br#"{"a":1,"webhookTimestamp" : 5}"#);
        assert_eq!(body_number(b"{}", "webhookTimestamp"), None);
    }
}
