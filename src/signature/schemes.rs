//! The provider table: every provider's scheme, and dispatch of verify and sign to it.

use crate::exchange::RecordedRequest;

use super::ctx::{Ctx, SignError};
use super::mac::{Algorithm, Encoding, TimeFormat};
use super::template::{Stamp, StampSource, TemplateScheme, parse_template};
use super::{Verdict, asymmetric, keyed_list, mailgun, standard_webhooks, token, twilio};

/// Every built-in provider name, as `--verify PROVIDER=SECRET` and the vectors spell them.
pub const PROVIDERS: &[&str] = &[
    "github",
    "stripe",
    "slack",
    "shopify",
    "standard-webhooks",
    "svix",
    "clerk",
    "resend",
    "twilio",
    "square",
    "paddle",
    "linear",
    "hubspot",
    "discord",
    "sendgrid",
    "zoom",
    "intercom",
    "typeform",
    "gitlab",
    "bitbucket",
    "xero",
    "vercel",
    "sentry",
    "pagerduty",
    "calendly",
    "mailgun",
    "twitch",
    "sharpapi",
    "okta",
];

/// Providers whose secret is a public key: they can be verified but not signed.
pub const PUBLIC_KEY_PROVIDERS: &[&str] = &["discord", "sendgrid"];

fn stamp(
    header: &str,
    format: TimeFormat,
    tolerance: Option<i64>,
    both_ways: bool,
) -> Option<Stamp> {
    Some(Stamp {
        source: StampSource::Header(header.into()),
        format,
        tolerance_secs: tolerance,
        both_ways,
    })
}

fn templated(header: &str, prefix: &str, encoding: Encoding, template: &str) -> TemplateScheme {
    TemplateScheme {
        template: parse_template(template).expect("built-in templates are valid"),
        ..TemplateScheme::body(header, prefix, Algorithm::Sha256, encoding)
    }
}

/// The template scheme of `provider`, for those that have one.
fn template_scheme(provider: &str, req: &RecordedRequest) -> Option<TemplateScheme> {
    use Algorithm::{Sha1, Sha256};
    use Encoding::{Base64, Hex};
    Some(match provider {
        "github"
            if req.header("x-hub-signature-256").is_none()
                && req.header("x-hub-signature").is_some() =>
        {
            TemplateScheme::body("x-hub-signature", "sha1=", Sha1, Hex)
        }
        "github" => TemplateScheme::body("x-hub-signature-256", "sha256=", Sha256, Hex),
        "intercom" => TemplateScheme::body("x-hub-signature", "sha1=", Sha1, Hex),
        "bitbucket" => TemplateScheme::body("x-hub-signature", "sha256=", Sha256, Hex),
        "shopify" => TemplateScheme {
            headers: vec!["x-shopify-hmac-sha256".into(), "shopify-hmac-sha256".into()],
            ..TemplateScheme::body("", "", Sha256, Base64)
        },
        "typeform" => TemplateScheme::body("typeform-signature", "sha256=", Sha256, Base64),
        "xero" => TemplateScheme::body("x-xero-signature", "", Sha256, Base64),
        "vercel" => TemplateScheme::body("x-vercel-signature", "", Sha1, Hex),
        "sentry" => TemplateScheme::body("sentry-hook-signature", "", Sha256, Hex),
        "sharpapi" => TemplateScheme::body("x-signature", "", Sha256, Hex),
        "linear" => TemplateScheme {
            stamp: Some(Stamp {
                source: StampSource::BodyMillis("webhookTimestamp"),
                format: TimeFormat::Millis,
                tolerance_secs: Some(60),
                both_ways: true,
            }),
            ..TemplateScheme::body("linear-signature", "", Sha256, Hex)
        },
        "slack" => TemplateScheme {
            stamp: stamp(
                "x-slack-request-timestamp",
                TimeFormat::Seconds,
                Some(300),
                true,
            ),
            ..templated("x-slack-signature", "v0=", Hex, "v0:{timestamp}:{body}")
        },
        // Zoom states no tolerance, so the timestamp is signed but not checked.
        "zoom" => TemplateScheme {
            stamp: stamp("x-zm-request-timestamp", TimeFormat::Millis, None, false),
            ..templated("x-zm-signature", "v0=", Hex, "v0:{timestamp}:{body}")
        },
        "twitch" => TemplateScheme {
            stamp: stamp(
                "twitch-eventsub-message-timestamp",
                TimeFormat::Rfc3339,
                Some(600),
                false,
            ),
            id_header: Some("twitch-eventsub-message-id".into()),
            ..templated(
                "twitch-eventsub-message-signature",
                "sha256=",
                Hex,
                "{id}{timestamp}{body}",
            )
        },
        "square" => templated("x-square-hmacsha256-signature", "", Base64, "{url}{body}"),
        "hubspot" => TemplateScheme {
            stamp: stamp(
                "x-hubspot-request-timestamp",
                TimeFormat::Millis,
                Some(300),
                false,
            ),
            ..templated(
                "x-hubspot-signature-v3",
                "",
                Base64,
                "{method}{url}{body}{timestamp}",
            )
        },
        _ => return None,
    })
}

/// True when GitLab's request uses a signing token (Standard Webhooks) rather than a token.
fn gitlab_signs(req: &RecordedRequest) -> bool {
    req.header("webhook-signature").is_some()
        || req.header("x-gitlab-token").is_none() && req.header("webhook-id").is_some()
}

/// The verdict of built-in `provider` for the request in `ctx`.
pub fn verify(ctx: &Ctx<'_>) -> Verdict {
    let req = ctx.req;
    match ctx.provider {
        "standard-webhooks" | "svix" | "clerk" | "resend" => standard_webhooks::verify(ctx),
        "gitlab" if gitlab_signs(req) => standard_webhooks::verify(ctx),
        "gitlab" | "okta" => token::verify(ctx),
        "twilio" => twilio::verify(ctx),
        "discord" => asymmetric::discord(ctx),
        "sendgrid" => asymmetric::sendgrid(ctx),
        "mailgun" => mailgun::verify(ctx),
        provider => {
            if let Some(scheme) = keyed_list::scheme(provider) {
                scheme.verify(ctx)
            } else if let Some(scheme) = template_scheme(provider, req) {
                scheme.verify(ctx)
            } else {
                Verdict::invalid(
                    provider,
                    None,
                    format!("{provider} is not a known provider"),
                )
            }
        }
    }
}

/// Re-signs `req` for built-in `provider`.
pub fn sign(ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
    match ctx.provider {
        p if PUBLIC_KEY_PROVIDERS.contains(&p) => Err(SignError::PublicKeyOnly(p.to_string())),
        "standard-webhooks" | "svix" | "clerk" | "resend" => standard_webhooks::sign(ctx, req),
        "gitlab" if gitlab_signs(req) => {
            standard_webhooks::sign(ctx, req)?;
            if let Some(id) = req.header("webhook-id").map(str::to_string)
                && req.header("idempotency-key").is_some()
            {
                super::ctx::set_header(req, "idempotency-key", &id);
            }
            Ok(())
        }
        "gitlab" | "okta" => token::sign(ctx, req),
        "twilio" => twilio::sign(ctx, req),
        "mailgun" => mailgun::sign(ctx, req),
        provider => {
            if let Some(scheme) = keyed_list::scheme(provider) {
                scheme.sign(ctx, req)
            } else if let Some(scheme) = template_scheme(provider, req) {
                scheme.sign(ctx, req)
            } else {
                Err(SignError::Unsupported(
                    provider.to_string(),
                    "it is not a known provider".into(),
                ))
            }
        }
    }
}
