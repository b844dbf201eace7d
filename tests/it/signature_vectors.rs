//! Every vector made by the providers' own SDKs gives its expected verdict, through the
//! library API: detection from the headers, and with the provider pinned.

use crate::common::sigvectors;

use hooktap::signature::{Secret, Verifier};
use sigvectors::{as_vector_verdict, assert_all_passed, cases};

#[test]
fn every_public_vector_gives_its_expected_verdict() {
    let cases = cases();
    assert_eq!(cases.len(), 80, "the fixture holds the 80 public vectors");
    let mut failures = Vec::new();
    for case in &cases {
        let verdict = case
            .verifier()
            .check(&case.request, case.url.as_deref(), case.now);
        let got = verdict.as_ref().map(|v| as_vector_verdict(v.label()));
        let provider = verdict.as_ref().map(|v| v.provider());
        if got != Some(case.expected.as_str()) || provider != Some(case.provider.as_str()) {
            failures.push(format!(
                "{}: expected {} from {}, got {verdict:?}",
                case.id, case.expected, case.provider
            ));
        }
    }
    assert_all_passed(&failures);
}

#[test]
fn pinning_the_provider_gives_the_same_verdicts() {
    for case in cases() {
        let secret =
            Secret::for_provider(&case.provider, &case.secret).expect("vector secrets are valid");
        let verifier = Verifier::new(
            [(case.provider.clone(), secret)],
            Vec::new(),
            Some(case.provider.clone()),
        );
        let verdict = verifier
            .check(&case.request, case.url.as_deref(), case.now)
            .expect("a pinned provider always gives a verdict");
        assert_eq!(
            as_vector_verdict(verdict.label()),
            case.expected,
            "{}: {verdict:?}",
            case.id
        );
    }
}

#[test]
fn without_a_secret_the_detected_provider_says_no_secret() {
    for case in cases() {
        let verdict = Verifier::default().check(&case.request, case.url.as_deref(), case.now);
        match case.provider.as_str() {
            // Only a generic header (Authorization) or body fields: nothing to claim.
            "okta" | "mailgun" => assert_eq!(verdict, None, "{}", case.id),
            _ => {
                let verdict = verdict.unwrap_or_else(|| panic!("{}: not detected", case.id));
                assert_eq!(verdict.label(), "no secret", "{}", case.id);
            }
        }
    }
}
