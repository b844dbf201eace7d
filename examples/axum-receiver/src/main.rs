//! A webhook receiver in axum that verifies GitHub and Stripe signatures: the same
//! behaviour as `examples/flask_receiver.py`.
//!
//! ```text
//! cd examples/axum-receiver && cargo build --release
//! GITHUB_WEBHOOK_SECRET=... STRIPE_WEBHOOK_SECRET=whsec_... target/release/axum-receiver 5000
//! hooktap listen 5000 --verify github=... --verify stripe=whsec_...
//! ```
//!
//! Routes (POST): `/webhooks/github` needs `X-Hub-Signature-256: sha256=<hex>`;
//! `/webhooks/stripe` needs `Stripe-Signature: t=<unix>,v1=<hex>`; any other path is
//! checked by whichever of the two headers it carries. `GET /health` answers 200.
//!
//! Answers: 200 with a small JSON body when the signature is valid; 400 when the request is
//! not in the provider's form (header missing or malformed, body not JSON); 401 when the
//! signature does not match or Stripe's timestamp is older than the tolerance; 500 when the
//! provider's secret is not set. Every answer names its reason.
//!
//! Environment: `GITHUB_WEBHOOK_SECRET`, `STRIPE_WEBHOOK_SECRET` (whsec_… used as is, not
//! decoded), `STRIPE_TOLERANCE` (seconds, default 300), `PORT` (default 5000; the first
//! argument wins), `HOST` (default 127.0.0.1), `FAIL_WITH` (answer every webhook with this
//! status), `FAIL_FILE` (while this file exists, answer every webhook with the status
//! written in it, 500 if empty).
//!
//! The checks follow GitHub's docs and stripe-python: the raw body bytes (axum's `Bytes`
//! extractor, never re-serialised JSON), constant-time comparison (`subtle`), any `v1`
//! signature may match (secret rotation), the signature checked before the timestamp,
//! and the tolerance is past-only.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A webhook that fails its check: the status to answer and why.
struct Rejected(StatusCode, String);

fn rejected(status: StatusCode, reason: impl Into<String>) -> Rejected {
    Rejected(status, reason.into())
}

/// What a valid webhook was.
struct Accepted {
    event: Option<String>,
    delivery: Option<String>,
}

#[derive(Clone, Copy)]
enum Provider {
    GitHub,
    Stripe,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Stripe => "stripe",
        }
    }
}

fn secret(name: &str) -> Result<Vec<u8>, Rejected> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value.into_bytes()),
        _ => Err(rejected(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{name} is not set: the receiver cannot check this provider"),
        )),
    }
}

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// GitHub: `X-Hub-Signature-256` is `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
fn verify_github(body: &[u8], headers: &HeaderMap) -> Result<Accepted, Rejected> {
    let key = secret("GITHUB_WEBHOOK_SECRET")?;
    let received = header(headers, "x-hub-signature-256").ok_or_else(|| {
        rejected(
            StatusCode::BAD_REQUEST,
            "missing X-Hub-Signature-256 header",
        )
    })?;
    if !received.starts_with("sha256=") {
        return Err(rejected(
            StatusCode::BAD_REQUEST,
            "X-Hub-Signature-256 does not start with sha256=",
        ));
    }
    let expected = format!("sha256={}", hmac_hex(&key, &[body]));
    // Compared as strings, like octokit: upper-case hex does not match. Unequal lengths
    // compare false at once (the length is not secret).
    if !bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        return Err(rejected(
            StatusCode::UNAUTHORIZED,
            "X-Hub-Signature-256 does not match the body: wrong secret or body changed",
        ));
    }
    Ok(Accepted {
        event: header(headers, "x-github-event").map(str::to_string),
        delivery: header(headers, "x-github-delivery").map(str::to_string),
    })
}

/// Stripe: `Stripe-Signature` is `t=<unix>,v1=<hex HMAC-SHA256(secret, "t." + body)>[,v1=…]`.
fn verify_stripe(body: &[u8], headers: &HeaderMap) -> Result<Accepted, Rejected> {
    let key = secret("STRIPE_WEBHOOK_SECRET")?;
    let tolerance: i64 = std::env::var("STRIPE_TOLERANCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let value = header(headers, "stripe-signature")
        .ok_or_else(|| rejected(StatusCode::BAD_REQUEST, "missing Stripe-Signature header"))?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", sig)) => signatures.push(sig),
            // v0 and unknown schemes are skipped, as stripe-python does.
            _ => {}
        }
    }
    let timestamp: i64 = timestamp.and_then(|t| t.parse().ok()).ok_or_else(|| {
        rejected(
            StatusCode::BAD_REQUEST,
            "Stripe-Signature has no valid t= timestamp",
        )
    })?;
    if signatures.is_empty() {
        return Err(rejected(
            StatusCode::BAD_REQUEST,
            "Stripe-Signature has no v1= signature",
        ));
    }
    let expected = hmac_hex(&key, &[timestamp.to_string().as_bytes(), b".", body]);
    let matched = signatures.iter().fold(false, |any, sig| {
        any | bool::from(expected.as_bytes().ct_eq(sig.as_bytes()))
    });
    if !matched {
        return Err(rejected(
            StatusCode::UNAUTHORIZED,
            "no v1 signature in Stripe-Signature matches the body: wrong secret or body changed",
        ));
    }
    // Past only: a timestamp in the future passes, as in stripe-python.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let age = now - timestamp;
    if age > tolerance {
        return Err(rejected(
            StatusCode::UNAUTHORIZED,
            format!(
                "Stripe-Signature timestamp is {age}s old (tolerance {tolerance}s): a replayed or stale event"
            ),
        ));
    }
    let event: Value = serde_json::from_slice(body)
        .map_err(|_| rejected(StatusCode::BAD_REQUEST, "the body is not JSON"))?;
    let field = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_string);
    Ok(Accepted {
        event: field("type"),
        delivery: field("id"),
    })
}

/// The status `FAIL_WITH` or `FAIL_FILE` asks for, if any.
fn forced_failure() -> Option<StatusCode> {
    let status = |text: &str| {
        StatusCode::from_u16(text.trim().parse().unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    };
    if let Ok(value) = std::env::var("FAIL_WITH")
        && !value.is_empty()
    {
        return Some(status(&value));
    }
    let path = std::env::var_os("FAIL_FILE")?;
    let text = std::fs::read_to_string(path).ok()?;
    Some(if text.trim().is_empty() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status(&text)
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn receive(provider: Option<Provider>, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(status) = forced_failure() {
        eprintln!(
            "receiver: POST {path} -> {} (made to fail)",
            status.as_u16()
        );
        let error = format!(
            "the receiver is made to fail (FAIL_WITH/FAIL_FILE): {}",
            status.as_u16()
        );
        return answer(status, json!({"ok": false, "error": error}));
    }
    let provider = provider.or_else(|| {
        if headers.contains_key("x-hub-signature-256") {
            Some(Provider::GitHub)
        } else if headers.contains_key("stripe-signature") {
            Some(Provider::Stripe)
        } else {
            None
        }
    });
    let Some(provider) = provider else {
        eprintln!("receiver: POST {path} -> 400 (no signature header)");
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"ok": false, "error": "no X-Hub-Signature-256 or Stripe-Signature header"}),
        );
    };
    let checked = match provider {
        Provider::GitHub => verify_github(body, headers),
        Provider::Stripe => verify_stripe(body, headers),
    };
    let name = provider.name();
    match checked {
        Ok(Accepted { event, delivery }) => {
            eprintln!(
                "receiver: POST {path} -> 200 {name} {} {}",
                event.as_deref().unwrap_or("-"),
                delivery.as_deref().unwrap_or("-")
            );
            answer(
                StatusCode::OK,
                json!({"ok": true, "provider": name, "event": event, "delivery": delivery}),
            )
        }
        Err(Rejected(status, reason)) => {
            eprintln!(
                "receiver: POST {path} -> {} {name}: {reason}",
                status.as_u16()
            );
            answer(
                status,
                json!({"ok": false, "provider": name, "error": reason}),
            )
        }
    }
}

async fn github(OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    receive(Some(Provider::GitHub), uri.path(), &headers, &body)
}

async fn stripe(OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    receive(Some(Provider::Stripe), uri.path(), &headers, &body)
}

async fn any_path(OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    receive(None, uri.path(), &headers, &body)
}

async fn health() -> Response {
    answer(StatusCode::OK, json!({"ok": true}))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .map(|p| {
            p.parse().unwrap_or_else(|_| {
                eprintln!("receiver: '{p}' is not a port: pass a number such as 5000");
                std::process::exit(2);
            })
        })
        .unwrap_or(5000);
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let addr: SocketAddr = format!("{host}:{port}").parse().unwrap_or_else(|_| {
        eprintln!("receiver: HOST '{host}' is not an IP address");
        std::process::exit(2);
    });
    for name in ["GITHUB_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET"] {
        if std::env::var(name).map_or(true, |v| v.is_empty()) {
            eprintln!("receiver: {name} is not set: that provider's webhooks will be answered 500");
        }
    }
    let app = Router::new()
        .route("/webhooks/github", post(github))
        .route("/webhooks/stripe", post(stripe))
        .route("/health", get(health))
        .route("/", post(any_path))
        .route("/{*rest}", post(any_path))
        // Webhook bodies can be large (GitHub's are at most 25 MiB).
        .layer(axum::extract::DefaultBodyLimit::max(25 << 20));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|err| {
            eprintln!("receiver: could not listen on {addr}: {err}");
            std::process::exit(1);
        });
    eprintln!("receiver: listening on http://{addr}");
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        eprintln!("receiver: {err}");
        std::process::exit(1);
    }
}
