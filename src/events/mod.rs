//! Sample webhook events for `hooktap send`: realistic deliveries from `assets/events/`,
//! built into the binary, with fresh ids and timestamps filled in each time.
//!
//! An asset is a JSON file `assets/events/<provider>/<event>.json`:
//! `{"about": "...", "path": "/webhooks/x", "pretty": false, "headers": {...}, "body": ...}`.
//! The body is JSON (written compact, or with two-space indents when `pretty`, as Stripe
//! does) or a string sent as it is. Header values and body strings may hold placeholders:
//! `{{uuid}}`, `{{id:PREFIX}}` (PREFIX and 24 random characters), `{{now}}` (unix seconds),
//! `{{now_ms}}` and `{{now_iso}}` (RFC 3339). The same placeholder gets the same value
//! throughout one event; a body string that is only `{{now}}` or `{{now_ms}}` becomes a number.

pub mod deliver;
mod sign;

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::exchange::{Body, RecordedRequest};

pub use sign::{Mode, STALE_SECS, delivery_id, prepare, tamper_body};

/// `(name, asset text)` for one event file.
macro_rules! event {
    ($provider:literal, $event:literal) => {
        (
            concat!($provider, ".", $event),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/events/",
                $provider,
                "/",
                $event,
                ".json"
            )),
        )
    };
}

/// Every event `hooktap send` knows, as `provider.event` and the asset's text.
static CATALOGUE: &[(&str, &str)] = &[
    event!("github", "push"),
    event!("github", "ping"),
    event!("github", "pull_request"),
    event!("stripe", "payment_intent.succeeded"),
    event!("stripe", "checkout.session.completed"),
    event!("stripe", "invoice.payment_failed"),
    event!("standard-webhooks", "user.created"),
    event!("svix", "invoice.paid"),
    event!("clerk", "user.created"),
    event!("resend", "email.delivered"),
    event!("shopify", "orders.create"),
    event!("slack", "app_mention"),
    event!("linear", "issue.create"),
    event!("paddle", "transaction.completed"),
    event!("twitch", "channel.follow"),
    event!("typeform", "form_response"),
    event!("vercel", "deployment.succeeded"),
];

/// One sample event.
#[derive(Clone, Debug)]
pub struct Event {
    /// `provider.event`, e.g. `github.push`.
    pub name: &'static str,
    /// The provider, as `--verify PROVIDER=SECRET` names it.
    pub provider: &'static str,
    /// What happened, in a few words.
    pub about: String,
    /// The path it is posted to when the destination names none.
    pub path: String,
    pretty: bool,
    headers: Vec<(String, String)>,
    body: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Asset {
    about: String,
    path: String,
    #[serde(default)]
    pretty: bool,
    headers: serde_json::Map<String, Value>,
    body: Value,
}

impl Event {
    fn parse(name: &'static str, text: &str) -> Result<Self, String> {
        let asset: Asset =
            serde_json::from_str(text).map_err(|e| format!("event {name} is not valid: {e}"))?;
        let provider = name.split_once('.').map_or(name, |(p, _)| p);
        let headers = asset
            .headers
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.to_ascii_lowercase(), v)),
                _ => Err(format!("event {name}: header {k} is not a string")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name,
            provider,
            about: asset.about,
            path: asset.path,
            pretty: asset.pretty,
            headers,
            body: asset.body,
        })
    }

    /// The delivery as made at `now` (unix seconds): headers and body with fresh values,
    /// unsigned. `body` replaces the sample's body (the headers stay the event's).
    pub fn request(&self, now: i64, body: Option<Vec<u8>>) -> RecordedRequest {
        let mut fresh = Fresh::new(now);
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), fresh.fill(v).into_bytes()))
            .collect();
        let body = body.unwrap_or_else(|| match fresh.json(&self.body) {
            Value::String(text) => text.into_bytes(),
            filled if self.pretty => serde_json::to_vec_pretty(&filled).unwrap_or_default(),
            filled => serde_json::to_vec(&filled).unwrap_or_default(),
        });
        RecordedRequest {
            method: "POST".into(),
            uri: self.path.clone(),
            version: "HTTP/1.1".into(),
            headers,
            body: Body::full(body),
        }
    }
}

/// Every event, in catalogue order.
pub fn all() -> Vec<Event> {
    CATALOGUE
        .iter()
        .map(|(name, text)| Event::parse(name, text).expect("built-in events parse (tested)"))
        .collect()
}

/// The event `name` (`github.push`), or with only a provider (`github`), its first event;
/// the error names what exists.
pub fn find(name: &str) -> Result<Event, String> {
    let name = name.trim().to_ascii_lowercase();
    let events = all();
    if let Some(event) = events.iter().find(|e| e.name == name) {
        return Ok(event.clone());
    }
    if let Some(event) = events.iter().find(|e| e.provider == name) {
        return Ok(event.clone());
    }
    let provider = name.split_once('.').map_or(name.as_str(), |(p, _)| p);
    let same: Vec<&str> = events
        .iter()
        .filter(|e| e.provider == provider)
        .map(|e| e.name)
        .collect();
    Err(if same.is_empty() {
        let mut providers: Vec<&str> = events.iter().map(|e| e.provider).collect();
        providers.dedup();
        format!(
            "no sample events for '{name}'; there are some for {} (hooktap send --list)",
            providers.join(", ")
        )
    } else {
        format!(
            "unknown event '{name}'; {provider} has {} (hooktap send --list)",
            same.join(", ")
        )
    })
}

/// Fills placeholders, one value per placeholder per event.
struct Fresh {
    now: i64,
    values: HashMap<String, String>,
}

impl Fresh {
    fn new(now: i64) -> Self {
        Self {
            now,
            values: HashMap::new(),
        }
    }

    fn value(&mut self, key: &str) -> Option<String> {
        if let Some(known) = self.values.get(key) {
            return Some(known.clone());
        }
        let made = match key {
            "uuid" => uuid(),
            "now" => self.now.to_string(),
            "now_ms" => self.now.saturating_mul(1000).to_string(),
            "now_iso" => {
                let secs = u64::try_from(self.now).unwrap_or(0);
                let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                humantime::format_rfc3339_seconds(time).to_string()
            }
            _ => format!("{}{}", key.strip_prefix("id:")?, random_chars(24)),
        };
        self.values.insert(key.to_string(), made.clone());
        Some(made)
    }

    /// `text` with every known `{{…}}` replaced.
    fn fill(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            let key = &rest[start + 2..start + len];
            out.push_str(&rest[..start]);
            match self.value(key) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[start..start + len + 2]),
            }
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        out
    }

    fn json(&mut self, value: &Value) -> Value {
        match value {
            Value::String(s) if s == "{{now}}" => Value::from(self.now),
            Value::String(s) if s == "{{now_ms}}" => Value::from(self.now.saturating_mul(1000)),
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.json(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// A random (version 4) UUID, as GitHub's `X-GitHub-Delivery` is.
fn uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `n` random letters and digits, the shape of Stripe's ids.
fn random_chars(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..n)
        .map(|_| char::from(ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()]))
        .collect()
}

#[cfg(test)]
mod tests;
