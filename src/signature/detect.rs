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

/// Headers read besides [`BY_HEADER`]'s, numbered after them in [`Present`].
const HUB_SIGNATURE: usize = BY_HEADER.len();
const USER_AGENT: usize = BY_HEADER.len() + 1;
const OKTA_CHALLENGE: usize = BY_HEADER.len() + 2;
const AUTHORIZATION: usize = BY_HEADER.len() + 3;
const OTHER_HEADERS: [&str; 4] = [
    "x-hub-signature",
    "user-agent",
    "x-okta-verification-challenge",
    "authorization",
];

/// Which of the headers detection reads a request carries, found in one pass over its
/// headers (most requests carry none, and this runs for every recorded request). As with
/// [`RecordedRequest::header`], a header counts by its first occurrence, if that is text.
struct Present(u64);

impl Present {
    fn of(req: &RecordedRequest) -> Self {
        const { assert!(BY_HEADER.len() + OTHER_HEADERS.len() <= 64) };
        let known = BY_HEADER.iter().map(|(h, _)| *h).chain(OTHER_HEADERS);
        let (mut seen, mut present) = (0u64, 0u64);
        for (name, value) in &req.headers {
            for (i, header) in known.clone().enumerate() {
                let bit = 1 << i;
                if seen & bit == 0
                    && header.len() == name.len()
                    && header.eq_ignore_ascii_case(name)
                {
                    seen |= bit;
                    if std::str::from_utf8(value).is_ok() {
                        present |= bit;
                    }
                }
            }
        }
        Self(present)
    }

    fn has(&self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// Whether `header`, one of [`BY_HEADER`]'s, is present.
    fn has_listed(&self, header: &str) -> bool {
        BY_HEADER
            .iter()
            .position(|(h, _)| *h == header)
            .is_some_and(|i| self.has(i))
    }
}

/// Candidate providers for `req`, best first, without duplicates.
pub fn candidates(req: &RecordedRequest) -> Vec<(&'static str, Strength)> {
    let mut found: Vec<(&'static str, Strength)> = Vec::new();
    let present = Present::of(req);
    if present.0 == 0 {
        return found;
    }
    let mut add = |name: &'static str, strength| {
        if !found.iter().any(|(n, _)| *n == name) {
            found.push((name, strength));
        }
    };
    // GitLab's signing tokens use Standard Webhooks headers: GitLab first when it says so.
    if present.has_listed("x-gitlab-event") {
        add("gitlab", Strength::Strong);
    }
    for (i, (_, providers)) in BY_HEADER.iter().enumerate() {
        if present.has(i) {
            for provider in *providers {
                add(provider, Strength::Strong);
            }
        }
    }
    // X-Hub-Signature: GitHub's legacy SHA-1, Intercom's SHA-1, or Bitbucket's SHA-256.
    if let Some(value) = present
        .has(HUB_SIGNATURE)
        .then(|| req.header("x-hub-signature"))
        .flatten()
    {
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
    if present.has(USER_AGENT) {
        let agent = req.header("user-agent").unwrap_or_default();
        if agent.starts_with("SharpAPIWebhook") {
            add("sharpapi", Strength::Strong);
        }
        let mailgun = |w: &[u8]| w.eq_ignore_ascii_case(b"mailgun");
        if agent.as_bytes().windows(7).any(mailgun) {
            add("mailgun", Strength::Strong);
        }
    }
    if present.has(OKTA_CHALLENGE) {
        add("okta", Strength::Strong);
    } else if present.has(AUTHORIZATION) {
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
    fn header_names_match_in_any_case_and_by_their_first_occurrence() {
        assert_eq!(
            names(&request(&[
                ("Content-Type", "application/json"),
                ("Stripe-Signature", "t=1,v1=ab"),
                ("X-GitHub-Event", "push"),
            ])),
            ["stripe", "github"]
        );
        assert_eq!(
            names(&request(&[("User-Agent", "Go-http-client MAILGUN/1.1")])),
            ["mailgun"]
        );
        // As `RecordedRequest::header` reads it: the first value, and only if it is text.
        let mut req = request(&[("stripe-signature", "t=1,v1=ab")]);
        req.headers
            .insert(0, ("Stripe-Signature".into(), vec![0xff, 0xfe]));
        assert!(names(&req).is_empty());
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
