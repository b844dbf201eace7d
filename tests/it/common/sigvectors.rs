//! Loads tests/fixtures/sigvectors.json (the providers' own SDK vectors) as requests.

#![allow(dead_code)]

use base64::Engine as _;
use hooktap::exchange::{Body, RecordedRequest};
use hooktap::signature::{Secret, Verifier};
use serde_json::Value;

/// One vector as hooktap sees it.
pub struct Case {
    pub id: String,
    pub provider: String,
    pub secret: String,
    pub request: RecordedRequest,
    pub url: Option<String>,
    pub now: i64,
    /// `valid`, `invalid` or `expired`.
    pub expected: String,
}

impl Case {
    /// A verifier with only this case's secret, detecting the provider from the headers.
    pub fn verifier(&self) -> Verifier {
        let secret =
            Secret::for_provider(&self.provider, &self.secret).expect("vector secrets are valid");
        Verifier::new([(self.provider.clone(), secret)], Vec::new(), None)
    }

    /// The request as an HTTP/1.1 message, the format `show --raw` prints.
    pub fn raw(&self) -> Vec<u8> {
        let r = &self.request;
        let mut out = format!("{} {} HTTP/1.1\r\n", r.method, r.uri).into_bytes();
        for (name, value) in &r.headers {
            out.extend_from_slice(format!("{name}: ").as_bytes());
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&r.body.bytes);
        out
    }
}

/// Every case in the fixture.
pub fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sigvectors.json"
    );
    let text = std::fs::read_to_string(path).expect("the vectors fixture is in the repo");
    let json: Value = serde_json::from_str(&text).expect("the fixture is JSON");
    let cases = json["cases"].as_array().expect("cases is an array");
    cases.iter().map(case).collect()
}

fn case(c: &Value) -> Case {
    let text = |key: &str| c[key].as_str().map(str::to_string);
    let body = base64::engine::general_purpose::STANDARD
        .decode(text("body_base64").expect("every case has body_base64"))
        .expect("body_base64 decodes");
    let url = text("url");
    let uri = url
        .as_deref()
        .and_then(|u| u.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/webhook".into());
    let mut headers: Vec<(String, Vec<u8>)> = c["headers"]
        .as_object()
        .expect("headers is an object")
        .iter()
        .map(|(n, v)| {
            let value = v.as_str().expect("header values are strings");
            (n.to_ascii_lowercase(), value.as_bytes().to_vec())
        })
        .collect();
    headers.push(("content-length".into(), body.len().to_string().into_bytes()));
    Case {
        id: text("id").expect("id"),
        provider: text("provider").expect("provider"),
        secret: text("secret").expect("secret"),
        request: RecordedRequest {
            method: text("method").unwrap_or_else(|| "POST".into()),
            uri,
            version: "HTTP/1.1".into(),
            headers,
            body: Body::full(body),
        },
        url,
        now: c["now"].as_i64().expect("now is a number"),
        expected: text("expected").expect("expected"),
    }
}

/// The vector verdict a hooktap verdict label counts as (a missing header is invalid).
pub fn as_vector_verdict(label: &str) -> &str {
    match label {
        "missing header" => "invalid",
        other => other,
    }
}

/// Fails with every collected failure listed.
pub fn assert_all_passed(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
