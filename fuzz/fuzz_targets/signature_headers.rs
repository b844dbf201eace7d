//! Fuzzes the signature header parsers: the input becomes the value of every signature,
//! timestamp and id header (and the body), checked as every provider. Must never panic.
//! Run with `cargo +nightly fuzz run signature_headers` from the repository root.

#![no_main]

use hooktap::exchange::{Body, RecordedRequest};
use hooktap::signature::{PROVIDERS, Secret, Verifier};
use libfuzzer_sys::fuzz_target;

const HEADERS: &[&str] = &[
    "stripe-signature",
    "calendly-webhook-signature",
    "paddle-signature",
    "x-pagerduty-signature",
    "webhook-signature",
    "webhook-id",
    "webhook-timestamp",
    "svix-signature",
    "svix-id",
    "svix-timestamp",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
    "x-twilio-signature",
    "x-twilio-webhooks-signature-settings",
    "x-square-hmacsha256-signature",
    "linear-signature",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "x-signature-ed25519",
    "x-signature-timestamp",
    "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp",
    "x-zm-signature",
    "x-zm-request-timestamp",
    "typeform-signature",
    "x-gitlab-token",
    "x-xero-signature",
    "x-vercel-signature",
    "sentry-hook-signature",
    "twitch-eventsub-message-signature",
    "twitch-eventsub-message-timestamp",
    "twitch-eventsub-message-id",
    "x-signature",
    "authorization",
];

/// A secret every provider accepts (Discord and SendGrid need real public keys).
fn secret(provider: &str) -> Secret {
    let text = match provider {
        "discord" => "d0499746b9e3b0d92ea882b7a97782c79a23bcb3de2d00afa814f488d94e0271",
        "sendgrid" => {
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY/QTBPAIOQObPFPzvxwZlnjef9YiDYPvUEG+spZxly0N38B63b5kffL2Ri9Q59T9XeY7UYh7oR0dsFb0z96h4g=="
        }
        "stripe" | "standard-webhooks" | "svix" | "clerk" | "resend" => {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        }
        _ => "secret",
    };
    Secret::for_provider(provider, text).expect("fixed secrets are valid")
}

fuzz_target!(|data: &[u8]| {
    let (value, body) = data.split_at(data.len() / 2);
    let request = RecordedRequest {
        method: "POST".into(),
        uri: "/hook".into(),
        version: "HTTP/1.1".into(),
        headers: HEADERS
            .iter()
            .map(|h| (h.to_string(), value.to_vec()))
            .collect(),
        body: Body::full(body.to_vec()),
    };
    for provider in PROVIDERS {
        let verifier = Verifier::new(
            [(provider.to_string(), secret(provider))],
            Vec::new(),
            Some(provider.to_string()),
        );
        let _ = verifier.check(&request, Some("https://example.com/hook"), 1_750_000_000);
        let mut copy = request.clone();
        let _ = verifier.resign(&mut copy, Some("https://example.com/hook"), 1_750_000_000);
    }
});
