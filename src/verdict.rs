//! [`Verdict`]: the outcome of checking one request's signature, the contract the rest of
//! hooktap relies on (the store keeps it as JSON with each record; the output, the API and
//! the inspector show it). The schemes that compute it live in `signature`.

use serde::{Deserialize, Serialize};

/// The outcome of checking one request's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The signature matches and any signed timestamp is within tolerance.
    Valid {
        /// Provider name as the vectors use it (`stripe`, `github`, …).
        provider: String,
    },
    /// The signature does not match, or the header cannot be parsed.
    Invalid {
        /// Provider name.
        provider: String,
        /// One sentence: what is wrong.
        reason: String,
        /// The header that carried the signature.
        header: Option<String>,
        /// The signature computed from the configured secret.
        expected: Option<String>,
        /// The signature the request carried.
        received: Option<String>,
        /// What the signed bytes are, e.g. `"{t}.{body}" with t=1749999990, body 82 bytes`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed: Option<String>,
    },
    /// The MAC is right but the timestamp is outside the provider's tolerance.
    Expired {
        /// Provider name.
        provider: String,
        /// Seconds between the signed timestamp and the time of checking (positive: old).
        skew_secs: i64,
        /// The provider's tolerance in seconds.
        tolerance_secs: i64,
    },
    /// The provider was recognised but its signature header is absent.
    MissingHeader {
        /// Provider name.
        provider: String,
        /// The header that should carry the signature.
        header: String,
    },
    /// The provider was recognised but no secret is configured for it.
    NoSecret {
        /// Provider name.
        provider: String,
    },
}

impl Verdict {
    /// The tag it is stored under (its serde tag): `valid`, `invalid`, `expired`,
    /// `missing_header`, `no_secret`; what the record filter's `--verdict` matches.
    pub fn tag(&self) -> &'static str {
        match self {
            Verdict::Valid { .. } => "valid",
            Verdict::Invalid { .. } => "invalid",
            Verdict::Expired { .. } => "expired",
            Verdict::MissingHeader { .. } => "missing_header",
            Verdict::NoSecret { .. } => "no_secret",
        }
    }

    /// Short label for list views: `valid`, `invalid`, `expired`, `missing header`, `no secret`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Valid { .. } => "valid",
            Verdict::Invalid { .. } => "invalid",
            Verdict::Expired { .. } => "expired",
            Verdict::MissingHeader { .. } => "missing header",
            Verdict::NoSecret { .. } => "no secret",
        }
    }

    /// The provider the verdict is about.
    pub fn provider(&self) -> &str {
        match self {
            Verdict::Valid { provider }
            | Verdict::Invalid { provider, .. }
            | Verdict::Expired { provider, .. }
            | Verdict::MissingHeader { provider, .. }
            | Verdict::NoSecret { provider } => provider,
        }
    }

    /// True only for [`Verdict::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid { .. })
    }
}

impl Verdict {
    /// An [`Verdict::Invalid`] with only a reason (a malformed header, a missing field).
    pub(crate) fn invalid(provider: &str, header: Option<&str>, reason: impl Into<String>) -> Self {
        Verdict::Invalid {
            provider: provider.to_string(),
            reason: reason.into(),
            header: header.map(str::to_string),
            expected: None,
            received: None,
            signed: None,
        }
    }

    /// A [`Verdict::MissingHeader`].
    pub(crate) fn missing(provider: &str, header: &str) -> Self {
        Verdict::MissingHeader {
            provider: provider.to_string(),
            header: header.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_the_stored_serde_tag() {
        let verdicts = [
            Verdict::Valid {
                provider: "github".into(),
            },
            Verdict::invalid("github", None, "bad"),
        ];
        for verdict in verdicts {
            let json = serde_json::to_value(&verdict).unwrap();
            assert_eq!(json["verdict"], verdict.tag());
        }
    }
}
