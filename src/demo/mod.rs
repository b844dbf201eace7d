//! `hooktap demo`'s library pieces: the fixed demo-only secrets both sides share, the
//! events the demo sends (and what each should show), and the sample [`receiver`]. The
//! command (`cmd/demo.rs`) wires them to a relay, a session and the inspector.

pub mod receiver;

use crate::events::{self, Event, Mode};
use crate::signature::{Secret, Verifier};

pub use receiver::Receiver;

/// The tunnel name the demo asks its relay for.
pub const TUNNEL_NAME: &str = "demo";

/// The relay token the demo's agent connects with (demo only: the relay is on loopback
/// and lives as long as the demo).
pub const RELAY_TOKEN: &str = "hooktap-demo-only-token";

/// Signing secrets for demo use only: the demo signs with them and its receiver and
/// inspector check with them. Never use them for anything real.
const DEMO_SECRETS: &[(&str, &str)] = &[
    ("github", "hooktap-demo-only-github-secret"),
    ("stripe", "whsec_hooktap_demo_only"),
    (
        "standard-webhooks",
        "whsec_aG9va3RhcC1kZW1vLW9ubHktc3RhbmRhcmQtd2ViaG9va3M=",
    ),
    ("shopify", "hooktap-demo-only-shopify-secret"),
];

/// The verifier with every demo secret (detection picks the provider per request).
pub fn verifier() -> Verifier {
    let secrets = DEMO_SECRETS.iter().map(|(provider, text)| {
        let secret = Secret::for_provider(provider, text).expect("the demo secrets fit (tested)");
        (provider.to_string(), secret)
    });
    Verifier::new(secrets, Vec::new(), None)
}

/// The path whose handler fails once at the receiver (the shopify event's).
pub const FLAKY_PATH: &str = "/webhooks/shopify";

/// One delivery the demo makes.
#[derive(Clone, Debug)]
pub struct Step {
    /// The sample event.
    pub event: Event,
    /// Signed correctly, tampered with, or stale.
    pub mode: Mode,
    /// What it shows, for a person: `valid`, `tampered: invalid`…
    pub label: &'static str,
}

/// The deliveries, in order: three valid ones (GitHub, Stripe, Standard Webhooks), a
/// tampered one, a stale one, and a valid one the receiver fails with a 500.
pub fn plan() -> Vec<Step> {
    let step = |name: &str, mode, label| Step {
        event: events::find(name).expect("the demo's events are in the catalogue (tested)"),
        mode,
        label,
    };
    vec![
        step("github.push", Mode::Valid, "valid"),
        step("stripe.payment_intent.succeeded", Mode::Valid, "valid"),
        step("standard-webhooks.user.created", Mode::Valid, "valid"),
        step("github.push", Mode::Tamper, "tampered: invalid signature"),
        step(
            "stripe.payment_intent.succeeded",
            Mode::Stale,
            "stale: expired timestamp",
        ),
        step(
            "shopify.orders.create",
            Mode::Valid,
            "valid, but the app fails",
        ),
    ]
}

/// What to try once the events are in, for the inspector's status line.
pub const TRY_NEXT: &str = "demo: the app is fixed now: r on the 500 replays it · s re-signs the 401/400 · e edits · q quits";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Verdict;

    #[test]
    fn every_step_signs_and_checks_as_planned() {
        let verifier = verifier();
        let now = 1_750_000_000;
        for step in plan() {
            let signer = verifier.pinned(step.event.provider);
            let req = events::prepare(
                &step.event,
                None,
                &signer,
                "http://127.0.0.1/",
                now,
                step.mode,
            )
            .unwrap();
            let verdict = verifier.check(&req, None, now).unwrap();
            let want = match step.mode {
                Mode::Valid => "valid",
                Mode::Tamper => "invalid",
                Mode::Stale => "expired",
            };
            assert_eq!(verdict.label(), want, "{}: {verdict:?}", step.event.name);
            assert!(!matches!(verdict, Verdict::NoSecret { .. }));
        }
        assert!(plan().iter().any(|s| s.event.path == FLAKY_PATH));
    }
}
