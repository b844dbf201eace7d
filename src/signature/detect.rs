//! Which provider sent a request, from its headers (and User-Agent where that is all there
//! is; Mailgun's body fields are read by the verifier, only when it has a Mailgun key).
//! Several providers can match (`X-Hub-Signature`): all are returned, best first, and the
//! verifier takes the first one that has a secret.

use crate::exchange::RecordedRequest;

/// How sure a detection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strength {
    /// A header only this provider sends: worth a "no secret" verdict.
    Strong,
    /// A generic header (`Authorization`): only used when that provider has a secret.
    Weak,
}

/// `(header, providers)`: a request carrying the header may come from these providers.
const BY_HEADER: &[(&str, &[&str])] = &[
    ("stripe-signature", &["stripe"]),
    ("svix-signature", &["svix", "clerk", "resend"]),
    ("svix-id", &["svix", "clerk", "resend"]),
    ("x-slack-signature", &["slack"]),
    ("x-slack-request-timestamp", &["slack"]),
    ("x-shopify-hmac-sha256", &["shopify"]),
    ("shopify-hmac-sha256", &["shopify"]),
    ("x-shopify-topic", &["shopify"]),
    ("shopify-topic", &["shopify"]),
    ("x-twilio-email-event-webhook-signature", &["sendgrid"]),
    ("x-twilio-signature", &["twilio"]),
    ("x-square-hmacsha256-signature", &["square"]),
    ("x-square-signature", &["square"]),
    ("paddle-signature", &["paddle"]),
    ("linear-signature", &["linear"]),
    ("linear-event", &["linear"]),
    ("x-hubspot-signature-v3", &["hubspot"]),
    ("x-hubspot-signature", &["hubspot"]),
    ("x-signature-ed25519", &["discord"]),
    ("x-zm-signature", &["zoom"]),
    ("twitch-eventsub-message-signature", &["twitch"]),
    ("twitch-eventsub-message-id", &["twitch"]),
    ("x-gitlab-event", &["gitlab"]),
    ("x-gitlab-token", &["gitlab"]),
    ("webhook-signature", &["standard-webhooks", "gitlab"]),
    ("x-hub-signature-256", &["github"]),
    ("x-github-event", &["github"]),
    ("typeform-signature", &["typeform"]),
    ("x-xero-signature", &["xero"]),
    ("x-vercel-signature", &["vercel"]),
    ("sentry-hook-signature", &["sentry"]),
    ("x-pagerduty-signature", &["pagerduty"]),
    ("calendly-webhook-signature", &["calendly"]),
    ("x-event-key", &["bitbucket"]),
    ("x-signature", &["sharpapi"]),
];

/// Candidate providers for `req`, best first, without duplicates.
pub fn candidates(req: &RecordedRequest) -> Vec<(&'static str, Strength)> {
    let mut found: Vec<(&'static str, Strength)> = Vec::new();
    let mut add = |name: &'static str, strength| {
        if !found.iter().any(|(n, _)| *n == name) {
            found.push((name, strength));
        }
    };
    // GitLab's signing tokens use Standard Webhooks headers: GitLab first when it says so.
    if req.header("x-gitlab-event").is_some() {
        add("gitlab", Strength::Strong);
    }
    for (header, providers) in BY_HEADER {
        if req.header(header).is_some() {
            for provider in *providers {
                add(provider, Strength::Strong);
            }
        }
    }
    // X-Hub-Signature: GitHub's legacy SHA-1, Intercom's SHA-1, or Bitbucket's SHA-256.
    if let Some(value) = req.header("x-hub-signature") {
        // All three, the likeliest first, so whichever has a secret is checked.
        let providers: &[&str] = if value.trim_start().starts_with("sha256=") {
            &["bitbucket", "github", "intercom"]
        } else {
            &["github", "intercom", "bitbucket"]
        };
        for provider in providers {
            add(provider, Strength::Strong);
        }
    }
    let agent = req.header("user-agent").unwrap_or_default();
    if agent.starts_with("SharpAPIWebhook") {
        add("sharpapi", Strength::Strong);
    }
    if agent.to_ascii_lowercase().contains("mailgun") {
        add("mailgun", Strength::Strong);
    }
    if req.header("x-okta-verification-challenge").is_some() {
        add("okta", Strength::Strong);
    } else if req.header("authorization").is_some() {
        add("okta", Strength::Weak);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Body;

    fn request(headers: &[(&str, &str)]) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            uri: "/".into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: Body::full(b"{}".to_vec()),
        }
    }

    fn names(req: &RecordedRequest) -> Vec<&'static str> {
        candidates(req).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn ambiguous_headers_list_every_provider() {
        assert_eq!(
            names(&request(&[("x-hub-signature", "sha1=ab")])),
            ["github", "intercom", "bitbucket"]
        );
        assert_eq!(
            names(&request(&[("x-hub-signature", "sha256=ab")])),
            ["bitbucket", "github", "intercom"]
        );
        assert_eq!(
            names(&request(&[
                ("webhook-signature", "v1,x"),
                ("x-gitlab-event", "Push Hook")
            ])),
            ["gitlab", "standard-webhooks"]
        );
        assert_eq!(
            names(&request(&[("svix-id", "m")])),
            ["svix", "clerk", "resend"]
        );
    }

    #[test]
    fn plain_requests_have_no_strong_candidate() {
        let req = request(&[
            ("content-type", "application/json"),
            ("authorization", "Bearer x"),
        ]);
        assert_eq!(candidates(&req), [("okta", Strength::Weak)]);
        assert!(candidates(&request(&[])).is_empty());
    }
}
