//! Building blocks shared by the schemes: HMAC, encodings, constant-time comparison, times.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// A hash for HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1 (GitHub legacy, Intercom, Vercel, Twilio).
    Sha1,
    /// HMAC-SHA256, what most providers use.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How a MAC is written in a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Lowercase hex; compared as text, so upper case does not match (what most SDKs do).
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// HMAC of the concatenation of `parts` under `key`.
pub fn hmac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, parts),
        Algorithm::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, parts),
        Algorithm::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, parts),
    }
}

/// `bytes` in the given encoding.
pub fn encode(encoding: Encoding, bytes: &[u8]) -> String {
    match encoding {
        Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => STANDARD.encode(bytes),
    }
}

/// Decodes standard base64, with or without padding.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD.decode(trimmed).ok()
}

/// Constant-time equality of two strings (a length mismatch returns early: length is public).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Constant-time test whether any of `candidates` equals `expected`; every candidate is
/// compared so the position of a match does not show in the timing.
pub fn any_ct_eq(expected: &str, candidates: &[String]) -> bool {
    candidates
        .iter()
        .fold(false, |found, c| ct_eq(expected, c) | found)
}

/// A signed timestamp and how it must relate to the time of checking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// The signed time, unix seconds.
    pub signed_at: i64,
    /// The provider's tolerance, seconds.
    pub tolerance_secs: i64,
    /// True when a timestamp in the future is also out of tolerance.
    pub both_ways: bool,
}

impl Freshness {
    /// The skew (positive: the signature is older than `now`) when outside tolerance.
    pub fn violation(&self, now: i64) -> Option<i64> {
        let skew = now.saturating_sub(self.signed_at);
        let bad = skew > self.tolerance_secs
            || (self.both_ways && skew.saturating_neg() > self.tolerance_secs);
        bad.then_some(skew)
    }
}

/// How a scheme writes its timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeFormat {
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds.
    Millis,
    /// RFC 3339 (Twitch), fractional seconds allowed.
    Rfc3339,
}

impl TimeFormat {
    /// Parses `text` into unix seconds.
    pub fn parse(self, text: &str) -> Option<i64> {
        let text = text.trim();
        match self {
            TimeFormat::Seconds => text.parse::<i64>().ok(),
            TimeFormat::Millis => text.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
            TimeFormat::Rfc3339 => {
                let time = humantime::parse_rfc3339_weak(text).ok()?;
                let secs = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                i64::try_from(secs).ok()
            }
        }
    }

    /// `now` (unix seconds) written in this format.
    pub fn format(self, now: i64) -> String {
        match self {
            TimeFormat::Seconds => now.to_string(),
            TimeFormat::Millis => now.saturating_mul(1000).to_string(),
            TimeFormat::Rfc3339 => {
                // RFC 3339 years stop at 9999.
                let secs = now.clamp(0, 253_402_300_799) as u64;
                let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                humantime::format_rfc3339_nanos(time).to_string()
            }
        }
    }
}

/// A fresh random id for schemes that sign a message id, e.g. `msg_3f9a…`.
pub fn fresh_id(prefix: &str) -> String {
    let bytes: [u8; 12] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_github_docs_value() {
        let mac = hmac(
            Algorithm::Sha256,
            b"It's a Secret to Everybody",
            &[b"Hello, ", b"World!"],
        );
        assert_eq!(
            hex::encode(mac),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn freshness_directions() {
        let past_only = Freshness {
            signed_at: 1000,
            tolerance_secs: 300,
            both_ways: false,
        };
        assert_eq!(past_only.violation(1301), Some(301));
        assert_eq!(past_only.violation(1300), None);
        assert_eq!(past_only.violation(0), None);
        let both = Freshness {
            both_ways: true,
            ..past_only
        };
        assert_eq!(both.violation(699), Some(-301));
        let extreme = Freshness {
            signed_at: i64::MAX,
            ..both
        };
        assert_eq!(extreme.violation(-10), Some(i64::MIN));
    }

    #[test]
    fn times_round_trip() {
        for format in [TimeFormat::Seconds, TimeFormat::Millis, TimeFormat::Rfc3339] {
            assert_eq!(
                format.parse(&format.format(1_750_000_000)),
                Some(1_750_000_000)
            );
        }
        assert_eq!(TimeFormat::Seconds.parse("t"), None);
        assert!(
            TimeFormat::Rfc3339
                .format(i64::MAX)
                .starts_with("9999-12-31T23:59:59")
        );
    }
}
