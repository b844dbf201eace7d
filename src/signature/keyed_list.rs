//! Schemes whose header is a list of `key=value` items: Stripe (`t=…,v1=…`), Calendly,

// A verdict is the error path here: it is returned once per request, so its size is fine.
#![allow(clippy::result_large_err)]
//! Paddle (`ts=…;h1=…`) and PagerDuty (`v1=…,v1=…`).

use crate::exchange::RecordedRequest;

use super::ctx::{Ctx, SignError, set_header};
use super::mac::{self, Algorithm, Encoding, Freshness};
use super::{MacCheck, Verdict};

/// At most this many items are read from one header; more is not a real delivery.
const MAX_ITEMS: usize = 64;

/// One keyed-list scheme.
pub struct KeyedList {
    header: &'static str,
    separator: char,
    /// The timestamp key (`t`, `ts`), when the scheme signs a timestamp.
    stamp_key: Option<&'static str>,
    /// The signature key (`v1`, `h1`).
    sig_key: &'static str,
    /// Between the timestamp and the body in the signed string (`.` or `:`).
    joiner: &'static str,
    tolerance_secs: i64,
    both_ways: bool,
    /// Compare hex case-insensitively (PagerDuty's SDK decodes the hex).
    any_case: bool,
}

/// The scheme for `provider`, if it is one of these.
pub fn scheme(provider: &str) -> Option<KeyedList> {
    let stripe_like = |header, tolerance_secs| KeyedList {
        header,
        separator: ',',
        stamp_key: Some("t"),
        sig_key: "v1",
        joiner: ".",
        tolerance_secs,
        both_ways: false,
        any_case: false,
    };
    Some(match provider {
        "stripe" => stripe_like("stripe-signature", 300),
        "calendly" => stripe_like("calendly-webhook-signature", 180),
        "paddle" => KeyedList {
            header: "paddle-signature",
            separator: ';',
            stamp_key: Some("ts"),
            sig_key: "h1",
            joiner: ":",
            tolerance_secs: 5,
            both_ways: true,
            any_case: false,
        },
        "pagerduty" => KeyedList {
            header: "x-pagerduty-signature",
            separator: ',',
            stamp_key: None,
            sig_key: "v1",
            joiner: "",
            tolerance_secs: 0,
            both_ways: false,
            any_case: true,
        },
        _ => return None,
    })
}

/// The parsed header: the timestamp text and the signatures with the right key.
struct Parsed<'h> {
    stamp: Option<&'h str>,
    signatures: Vec<String>,
}

impl KeyedList {
    fn parse<'h>(&self, provider: &str, value: &'h str) -> Result<Parsed<'h>, Verdict> {
        let mut parsed = Parsed {
            stamp: None,
            signatures: Vec::new(),
        };
        for (index, item) in value.split(self.separator).enumerate() {
            if index >= MAX_ITEMS {
                return Err(Verdict::invalid(
                    provider,
                    Some(self.header),
                    format!("{} has more than {MAX_ITEMS} items", self.header),
                ));
            }
            let Some((key, val)) = item.trim().split_once('=') else {
                continue;
            };
            if Some(key) == self.stamp_key {
                parsed.stamp = Some(val);
            } else if key == self.sig_key {
                let val = if self.any_case {
                    val.to_ascii_lowercase()
                } else {
                    val.to_string()
                };
                parsed.signatures.push(val);
            }
        }
        Ok(parsed)
    }

    fn signed(&self, stamp: Option<&str>, body: &[u8]) -> (Vec<u8>, String) {
        match stamp {
            Some(t) => {
                let mut bytes = format!("{t}{}", self.joiner).into_bytes();
                bytes.extend_from_slice(body);
                let pattern = format!("\"{{t}}{}{{body}}\"", self.joiner);
                (
                    bytes,
                    format!("{pattern} with t={t}, body {} bytes", body.len()),
                )
            }
            None => (body.to_vec(), format!("the raw body, {} bytes", body.len())),
        }
    }

    /// The verdict for the request in `ctx`.
    pub fn verify(&self, ctx: &Ctx<'_>) -> Verdict {
        let Some(value) = ctx.req.header(self.header) else {
            return Verdict::missing(ctx.provider, self.header);
        };
        let parsed = match self.parse(ctx.provider, value) {
            Ok(parsed) => parsed,
            Err(verdict) => return verdict,
        };
        let mut freshness = None;
        if let Some(key) = self.stamp_key {
            let Some(text) = parsed.stamp else {
                return Verdict::invalid(
                    ctx.provider,
                    Some(self.header),
                    format!("{} has no {key}= timestamp", self.header),
                );
            };
            let Ok(signed_at) = text.parse::<i64>() else {
                return Verdict::invalid(
                    ctx.provider,
                    Some(self.header),
                    format!("the {key}= timestamp in {} is not a number", self.header),
                );
            };
            freshness = Some(Freshness {
                signed_at,
                tolerance_secs: self.tolerance_secs,
                both_ways: self.both_ways,
            });
        }
        let (bytes, signed) = self.signed(parsed.stamp, &ctx.req.body.bytes);
        let expected = mac::encode(
            Encoding::Hex,
            &mac::hmac(Algorithm::Sha256, ctx.secret.bytes(), &[&bytes]),
        );
        MacCheck {
            provider: ctx.provider,
            header: self.header,
            expected,
            received: parsed.signatures,
            signed,
            freshness,
        }
        .verdict(ctx.now)
    }

    /// Writes a fresh header: the current time and one signature.
    pub fn sign(&self, ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
        let stamp = self.stamp_key.map(|_| ctx.now.to_string());
        let (bytes, _) = self.signed(stamp.as_deref(), &req.body.bytes);
        let mac = mac::encode(
            Encoding::Hex,
            &mac::hmac(Algorithm::Sha256, ctx.secret.bytes(), &[&bytes]),
        );
        let value = match (self.stamp_key, stamp) {
            (Some(key), Some(t)) => format!("{key}={t}{}{}={mac}", self.separator, self.sig_key),
            _ => format!("{}={mac}", self.sig_key),
        };
        set_header(req, self.header, &value);
        Ok(())
    }
}
