//! Redaction for exports: credentials in headers and configured secrets anywhere.

use crate::exchange::{Body, Exchange, Header};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "REDACTED";

/// Request headers that carry credentials (token-style webhook headers among them).
pub const REQUEST_HEADERS: [&str; 6] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-gitlab-token",
    "x-api-key",
    "x-auth-token",
];
/// Response headers that carry credentials.
const RESPONSE_HEADERS: [&str; 1] = ["set-cookie"];
/// Shorter secrets are not searched for: they would match ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// Removes credentials from exchanges before they leave hooktap.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    enabled: bool,
    secrets: Vec<Vec<u8>>,
    /// Further request headers to hide (the configured generic schemes' headers).
    headers: Vec<String>,
}

impl Redactor {
    /// A redactor that hides the credential headers and every occurrence of `secrets`;
    /// `enabled == false` (`--no-redact`) leaves everything as it is.
    pub fn new(enabled: bool, secrets: impl IntoIterator<Item = String>) -> Self {
        Self {
            enabled,
            secrets: secrets
                .into_iter()
                .filter(|s| s.len() >= MIN_SECRET_LEN)
                .map(String::into_bytes)
                .collect(),
            headers: Vec::new(),
        }
    }

    /// Also hides these request headers, as `Authorization` is.
    pub fn with_headers<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.headers
            .extend(names.into_iter().map(str::to_ascii_lowercase));
        self
    }

    /// A copy of `ex` with credentials replaced by [`REDACTED`].
    pub fn exchange(&self, ex: &Exchange) -> Exchange {
        let mut out = ex.clone();
        if !self.enabled {
            return out;
        }
        let extra: Vec<&str> = self.headers.iter().map(String::as_str).collect();
        let sensitive = [&REQUEST_HEADERS[..], &extra].concat();
        out.request.headers = self.headers(&ex.request.headers, &sensitive);
        out.request.uri = self.text(&ex.request.uri);
        out.target = self.text(&ex.target);
        out.request.body = self.body(&ex.request.body);
        fix_length(
            &mut out.request.headers,
            &ex.request.body,
            &out.request.body,
        );
        if let Some(response) = out.response.as_mut() {
            response.headers = self.headers(&response.headers, &RESPONSE_HEADERS);
            let before = response.body.clone();
            response.body = self.body(&response.body);
            fix_length(&mut response.headers, &before, &response.body);
        }
        out
    }

    fn headers(&self, headers: &[Header], sensitive: &[&str]) -> Vec<Header> {
        headers
            .iter()
            .map(|(name, value)| {
                if sensitive.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                    (name.clone(), REDACTED.as_bytes().to_vec())
                } else {
                    (name.clone(), self.bytes(value))
                }
            })
            .collect()
    }

    fn body(&self, body: &Body) -> Body {
        let bytes = self.bytes(&body.bytes);
        let size = if body.truncated() {
            body.size
        } else {
            bytes.len() as u64
        };
        Body { bytes, size }
    }

    fn text(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.bytes(text.as_bytes())).into_owned()
    }

    /// `data` with every configured secret replaced.
    pub fn bytes(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        for secret in &self.secrets {
            out = replace_all(&out, secret, REDACTED.as_bytes());
        }
        out
    }
}

/// Keeps `Content-Length` true to a whole body whose length redaction changed.
fn fix_length(headers: &mut [Header], before: &Body, after: &Body) {
    if before.truncated() || before.bytes.len() == after.bytes.len() {
        return;
    }
    for (name, value) in headers.iter_mut() {
        if name.eq_ignore_ascii_case("content-length") {
            *value = after.bytes.len().to_string().into_bytes();
        }
    }
}

fn replace_all(data: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_everywhere() {
        let r = Redactor::new(true, ["whsec_abc123".to_string(), "x".to_string()]);
        assert_eq!(
            r.bytes(b"key=whsec_abc123&again=whsec_abc123;x"),
            b"key=REDACTED&again=REDACTED;x"
        );
        let headers = vec![
            ("Authorization".to_string(), b"Bearer t".to_vec()),
            ("x-key".to_string(), b"whsec_abc123".to_vec()),
        ];
        assert_eq!(
            r.headers(&headers, &REQUEST_HEADERS),
            vec![
                ("Authorization".to_string(), b"REDACTED".to_vec()),
                ("x-key".to_string(), b"REDACTED".to_vec()),
            ]
        );
    }

    #[test]
    fn token_headers_are_hidden_and_lengths_stay_true() {
        let header = |n: &str, v: &str| (n.to_string(), v.as_bytes().to_vec());
        let body = br#"{"key":"whsec_abc123"}"#;
        let mut ex = Exchange::for_test("/");
        ex.request.headers = vec![
            header("X-Gitlab-Token", "glt"),
            header("X-Api-Key", "k"),
            header("x-auth-token", "t"),
            header("X-Acme-Signature", "sig"),
            header("X-Other", "kept"),
            header("Content-Length", &body.len().to_string()),
        ];
        ex.request.body = Body::full(body.to_vec());
        let r =
            Redactor::new(true, ["whsec_abc123".to_string()]).with_headers(["X-Acme-Signature"]);
        let out = r.exchange(&ex);
        let value = |n: &str| out.request.header(n).unwrap().to_string();
        for name in [
            "x-gitlab-token",
            "x-api-key",
            "x-auth-token",
            "x-acme-signature",
        ] {
            assert_eq!(value(name), REDACTED, "{name}");
        }
        assert_eq!(value("x-other"), "kept");
        assert_eq!(out.request.body.bytes, br#"{"key":"REDACTED"}"#);
        assert_eq!(
            value("content-length"),
            out.request.body.bytes.len().to_string()
        );
    }
}
