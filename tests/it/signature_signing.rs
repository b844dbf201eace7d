//! Re-signing for replay: for every scheme with a shared secret, sign-then-verify gives
//! `valid` at the signing time, also after the body was edited; public-key schemes refuse.

use crate::common::sigvectors;

use hooktap::config::GenericScheme;
use hooktap::exchange::{Body, RecordedRequest};
use hooktap::signature::{Secret, SignError, Verifier};
use sigvectors::cases;

const NOW: i64 = 1_800_000_000;

#[test]
fn every_shared_secret_scheme_round_trips() {
    let mut signed_providers = std::collections::BTreeSet::new();
    for case in cases() {
        let verifier = case.verifier();
        // Signing at the extremes of time never panics.
        for extreme in [i64::MIN, -1, i64::MAX] {
            let mut request = case.request.clone();
            if verifier
                .resign(&mut request, case.url.as_deref(), extreme)
                .is_ok()
            {
                let _ = verifier.check(&request, case.url.as_deref(), extreme);
            }
        }
        let mut request = case.request.clone();
        let result = verifier.resign(&mut request, case.url.as_deref(), NOW);
        if matches!(case.provider.as_str(), "discord" | "sendgrid") {
            assert_eq!(
                result,
                Err(SignError::PublicKeyOnly(case.provider.clone())),
                "{}",
                case.id
            );
            continue;
        }
        let provider = result.unwrap_or_else(|e| panic!("{}: {e}", case.id));
        assert_eq!(provider, case.provider, "{}", case.id);
        let verdict = verifier.check(&request, case.url.as_deref(), NOW);
        assert!(
            verdict.as_ref().is_some_and(|v| v.is_valid()),
            "{}: {verdict:?}",
            case.id
        );
        // Long after signing, timestamped schemes say expired; the rest stay valid.
        let later = verifier
            .check(&request, case.url.as_deref(), NOW + 3600)
            .expect("detected");
        assert!(
            matches!(later.label(), "valid" | "expired"),
            "{}: {later:?}",
            case.id
        );
        signed_providers.insert(case.provider.clone());
    }
    assert_eq!(signed_providers.len(), 27, "{signed_providers:?}");
}

#[test]
fn an_edited_body_is_signed_anew_with_a_fresh_timestamp() {
    let case = cases()
        .into_iter()
        .find(|c| c.id == "stripe-expired")
        .expect("the vector exists");
    let verifier = case.verifier();
    let mut request = case.request.clone();
    request.body = Body::full(br#"{"edited":true}"#.to_vec());
    assert_eq!(
        verifier.check(&request, None, NOW).map(|v| v.label()),
        Some("invalid")
    );
    verifier
        .resign(&mut request, None, NOW)
        .expect("stripe signs");
    let header = request.header("stripe-signature").expect("signed");
    assert!(header.starts_with(&format!("t={NOW},v1=")), "{header}");
    assert!(
        verifier
            .check(&request, None, NOW)
            .is_some_and(|v| v.is_valid())
    );
}

#[test]
fn generic_schemes_round_trip_in_every_shape() {
    for (algorithm, encoding, template, ts) in [
        ("sha1", "hex", "{body}", None),
        ("sha256", "base64", "{timestamp}.{body}", Some("seconds")),
        (
            "sha512",
            "hex",
            "{method} {url} {id}:{timestamp}:{body}",
            Some("millis"),
        ),
    ] {
        let mut toml = format!(
            "name = \"acme\"\nheader = \"X-Acme-Sig\"\nalgorithm = \"{algorithm}\"\nencoding = \"{encoding}\"\nprefix = \"v1=\"\ntemplate = \"{template}\"\nid_header = \"X-Acme-Id\"\ntolerance_secs = 60\n"
        );
        if let Some(format) = ts {
            toml.push_str(&format!(
                "timestamp_header = \"X-Acme-Ts\"\ntimestamp_format = \"{format}\"\n"
            ));
        }
        let scheme: GenericScheme = toml::from_str(&toml).expect("valid scheme");
        let verifier = Verifier::new(
            [(
                "acme".to_string(),
                Secret::for_provider("acme", "s3cret").expect("secret"),
            )],
            vec![("acme".into(), scheme.scheme().expect("valid scheme"))],
            None,
        );
        let mut request = RecordedRequest {
            method: "POST".into(),
            uri: "/hook".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("x-acme-sig".into(), b"v1=00".to_vec())],
            body: Body::full(b"{\"a\":1}".to_vec()),
        };
        let url = Some("https://example.com/hook");
        assert_eq!(
            verifier.check(&request, url, NOW).map(|v| v.label()),
            Some(if ts.is_some() {
                "missing header"
            } else {
                "invalid"
            })
        );
        verifier
            .resign(&mut request, url, NOW)
            .expect("generic schemes sign");
        let verdict = verifier
            .check(&request, url, NOW)
            .expect("detected by its header");
        assert!(verdict.is_valid(), "{template}: {verdict:?}");
        if ts.is_some() {
            let late = verifier.check(&request, url, NOW + 61).expect("detected");
            assert_eq!(late.label(), "expired", "{template}");
        }
    }
}
