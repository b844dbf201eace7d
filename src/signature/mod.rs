//! Webhook signature verification and signing (DESIGN §6, shared/signatures.md).
//!
//! The verdict type is the contract the rest of hooktap relies on: the store keeps it as
//! JSON with each record, the headless output and `verify` print it. [`Verifier`] computes
//! verdicts from the configured secrets and re-signs requests for replay.

mod asymmetric;
mod ctx;
mod detect;
mod explain;
mod keyed_list;
pub mod mac;
mod mailgun;
mod schemes;
mod secret;
mod standard_webhooks;
pub mod template;
mod token;
mod twilio;
mod verifier;

pub use crate::verdict::Verdict;
pub use explain::explain;
pub use schemes::PROVIDERS;
pub use secret::Secret;
pub use verifier::{SignError, Verifier, signed_url};

/// The outcome of comparing a computed MAC with the ones a request carried.
pub(crate) struct MacCheck<'a> {
    /// Provider name.
    pub provider: &'a str,
    /// The header that carried the signature.
    pub header: &'a str,
    /// The MAC computed from the configured secret, encoded as the header writes it.
    pub expected: String,
    /// The candidates the header carried (several during key rotation).
    pub received: Vec<String>,
    /// What was signed, for the explanation.
    pub signed: String,
    /// The signed timestamp, if the scheme has one.
    pub freshness: Option<mac::Freshness>,
}

impl MacCheck<'_> {
    /// Valid, expired or invalid; the signature is checked before the timestamp.
    pub fn verdict(self, now: i64) -> Verdict {
        if self.received.is_empty() {
            return Verdict::invalid(
                self.provider,
                Some(self.header),
                format!("{} carries no signature this scheme uses", self.header),
            );
        }
        if !mac::any_ct_eq(&self.expected, &self.received) {
            return Verdict::Invalid {
                provider: self.provider.to_string(),
                reason: "the signature does not match the configured secret and these bytes".into(),
                header: Some(self.header.to_string()),
                expected: Some(self.expected),
                received: Some(self.received.join(" ")),
                signed: Some(self.signed),
            };
        }
        if let Some(fresh) = self.freshness
            && let Some(skew_secs) = fresh.violation(now)
        {
            return Verdict::Expired {
                provider: self.provider.to_string(),
                skew_secs,
                tolerance_secs: fresh.tolerance_secs,
            };
        }
        Verdict::Valid {
            provider: self.provider.to_string(),
        }
    }
}
