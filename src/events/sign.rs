//! Signing a sample event with the configured secret, through the same [`Verifier::resign`]
//! replay uses; and breaking it on purpose (`--tamper`, `--stale`), so a receiver's
//! rejection paths can be tried.

use crate::exchange::{Body, RecordedRequest};
use crate::signature::{Verdict, Verifier};

use super::Event;

/// How old a `--stale` delivery is: an hour, past every provider's tolerance (the widest,
/// Twitch's, is ten minutes).
pub const STALE_SECS: i64 = 3600;

/// What to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Correctly signed, just now.
    Valid,
    /// Signed, then the body changed: the signature no longer matches.
    Tamper,
    /// Correctly signed an hour ago: the timestamp is outside tolerance.
    Stale,
}

/// The request for `event` (with `body` in place of the sample's), signed by `verifier`
/// (which must pin the event's provider) for `url` at `now` (unix seconds) as `mode` says.
/// The error is one sentence for the user.
pub fn prepare(
    event: &Event,
    body: Option<Vec<u8>>,
    verifier: &Verifier,
    url: &str,
    now: i64,
    mode: Mode,
) -> Result<RecordedRequest, String> {
    let at = match mode {
        Mode::Stale => now - STALE_SECS,
        Mode::Valid | Mode::Tamper => now,
    };
    let mut req = event.request(at, body);
    verifier
        .resign(&mut req, Some(url), at)
        .map_err(|e| e.to_string())?;
    match mode {
        Mode::Valid => {}
        Mode::Tamper => req.body = tamper_body(&req.body.bytes),
        Mode::Stale => match verifier.check(&req, Some(url), now) {
            Some(Verdict::Expired { .. }) => {}
            _ => {
                return Err(format!(
                    "{} signs no timestamp, so an old delivery looks just like a new one; --stale works for {}",
                    event.provider,
                    timestamped_providers().join(", ")
                ));
            }
        },
    }
    Ok(req)
}

/// `body` changed after signing, visibly: a JSON object gains `"tampered":true` as its
/// first key, a form body a `tampered=1` field, anything else a trailing line.
pub fn tamper_body(body: &[u8]) -> Body {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    let changed = if let Some(rest) = trimmed.strip_prefix('{') {
        let comma = if rest.trim_start().starts_with('}') {
            ""
        } else {
            ","
        };
        format!("{{\"tampered\":true{comma}{rest}")
    } else if trimmed.contains('=') && !trimmed.contains(char::is_whitespace) {
        format!("{trimmed}&tampered=1")
    } else {
        format!("{text}\ntampered\n")
    };
    Body::full(changed.into_bytes())
}

/// The headers that carry a delivery's id, the first present is shown.
const ID_HEADERS: &[&str] = &[
    "x-github-delivery",
    "webhook-id",
    "svix-id",
    "twitch-eventsub-message-id",
    "x-shopify-webhook-id",
    "linear-delivery",
];

/// The delivery's id, to show: an id header, else the body's `id`, `event_id` or
/// `notification_id`.
pub fn delivery_id(req: &RecordedRequest) -> Option<String> {
    if let Some(id) = ID_HEADERS.iter().find_map(|h| req.header(h)) {
        return Some(id.to_string());
    }
    let body: serde_json::Value = serde_json::from_slice(&req.body.bytes).ok()?;
    ["id", "event_id", "notification_id"]
        .iter()
        .find_map(|k| body.get(k)?.as_str().map(str::to_string))
}

/// The providers of the catalogue whose schemes sign a timestamp (found by signing a
/// sample an hour ago and checking it now).
pub fn timestamped_providers() -> Vec<&'static str> {
    let now = 1_750_000_000;
    let mut found: Vec<&'static str> = Vec::new();
    for event in super::all() {
        if found.contains(&event.provider) {
            continue;
        }
        let verifier = test_verifier(event.provider);
        let mut req = event.request(now - STALE_SECS, None);
        let stale = verifier
            .resign(&mut req, Some("http://localhost/"), now - STALE_SECS)
            .is_ok()
            && matches!(
                verifier.check(&req, Some("http://localhost/"), now),
                Some(Verdict::Expired { .. })
            );
        if stale {
            found.push(event.provider);
        }
    }
    found
}

/// A made-up secret of the right shape for `provider`.
pub(crate) fn sample_secret(provider: &str) -> &'static str {
    match provider {
        "stripe" => "whsec_hooktap_sample",
        _ => "whsec_aG9va3RhcCBzYW1wbGUgc2VjcmV0",
    }
}

/// A verifier pinned to `provider` with [`sample_secret`].
pub(crate) fn test_verifier(provider: &str) -> Verifier {
    let secret = crate::signature::Secret::for_provider(provider, sample_secret(provider))
        .expect("the sample secret fits");
    Verifier::new(
        [(provider.to_string(), secret)],
        Vec::new(),
        Some(provider.to_string()),
    )
}
