//! Malformed signature headers give `invalid` (or `missing header`) with a reason, never a
//! panic and never `valid`; a seeded random mutation run over every vector backs it up.

use crate::common::sigvectors;

use hooktap::exchange::RecordedRequest;
use hooktap::signature::{Secret, Verdict, Verifier};
use sigvectors::{Case, cases};

/// The header names a case's scheme reads (every header it carries except context ones).
fn signature_headers(case: &Case) -> Vec<String> {
    case.request
        .headers
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != "content-length" && n != "content-type")
        .collect()
}

fn with_header(req: &RecordedRequest, name: &str, value: &[u8]) -> RecordedRequest {
    let mut req = req.clone();
    for (n, v) in &mut req.headers {
        if n == name {
            *v = value.to_vec();
        }
    }
    req
}

/// A verifier with the case's secret and its provider pinned.
fn pinned(case: &Case) -> Verifier {
    let secret =
        Secret::for_provider(&case.provider, &case.secret).expect("vector secrets are valid");
    Verifier::new(
        [(case.provider.clone(), secret)],
        Vec::new(),
        Some(case.provider.clone()),
    )
}

/// The long tokens of a header value: the signatures it carries.
fn signature_tokens(value: &str) -> Vec<String> {
    value
        .split([',', ';', ' ', '='])
        .filter(|t| t.len() >= 16)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn assert_rejected(verdict: Option<Verdict>, what: &str) {
    match verdict {
        Some(Verdict::Invalid { reason, .. }) => assert!(!reason.is_empty(), "{what}: no reason"),
        Some(Verdict::MissingHeader { header, .. }) => assert!(!header.is_empty(), "{what}"),
        other => panic!("{what}: expected invalid, got {other:?}"),
    }
}

#[test]
fn malformed_headers_are_invalid_with_a_reason() {
    let thousands = vec!["v1=00"; 5000].join(",");
    let thousands_sw = vec!["v1,AAAA"; 5000].join(" ");
    let malformed: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("truncated hex", "sha256=757107ea0eb2509fc2".into()),
        ("bad base64", "v1,!!!not*base64!!!".into()),
        ("t= with no number", "t=,v1=abc".into()),
        ("t= with text", "t=yesterday,v1=abc".into()),
        ("thousands of entries", thousands),
        ("thousands of spaced entries", thousands_sw),
        ("only separators", ",,,;;; ,=,=".into()),
    ];
    for case in cases().into_iter().filter(|c| c.expected == "valid") {
        let verifier = pinned(&case);
        for name in signature_headers(&case) {
            for (what, value) in &malformed {
                let req = with_header(&case.request, &name, value.as_bytes());
                let verdict = verifier.check(&req, case.url.as_deref(), case.now);
                // A context header (event name, user agent) may not matter to the scheme.
                if verdict.as_ref().is_some_and(Verdict::is_valid) {
                    let original = case.request.header(&name).unwrap_or_default();
                    assert!(
                        !original.is_empty() && !signature_like(&name),
                        "{} with {what} in {name}: still valid",
                        case.id
                    );
                    continue;
                }
                if signature_like(&name) {
                    assert_rejected(verdict, &format!("{} with {what} in {name}", case.id));
                }
            }
        }
    }
}

/// Headers that carry the signature itself, as opposed to event names or ids.
fn signature_like(name: &str) -> bool {
    (name.contains("signature") && !name.ends_with("-settings"))
        || name.contains("hmac")
        || name == "x-signature-ed25519"
        || name == "x-hub-signature-256"
        || name == "x-gitlab-token"
        || name == "authorization"
}

/// xorshift64*: a tiny seeded generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, value: &[u8]) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b",",
        b";",
        b"=",
        b" ",
        b"t=",
        b"v1=",
        b"v1,",
        b"ts=",
        b"h1=",
        b"sha256=",
        b"sha1=",
        b"v0=",
        b"-",
        b"99999999999999999999",
        b"\xff",
        b"\xc3\xa9",
        b"=",
        b"==",
        b"0",
        b"f",
    ];
    let mut out = value.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
            1 => out.truncate(rng.below(out.len() + 1)),
            2 => {
                let at = rng.below(out.len() + 1);
                let piece = PIECES[rng.below(PIECES.len())];
                out.splice(at..at, piece.iter().copied());
            }
            3 => {
                let copy = out.clone();
                out.extend_from_slice(b",");
                out.extend_from_slice(&copy);
            }
            4 => out = (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            _ => out.reverse(),
        }
        out.truncate(4096);
    }
    out
}

#[test]
fn random_mutations_of_every_header_never_panic_or_pass() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for case in &cases() {
        let verifiers = [case.verifier(), pinned(case)];
        for name in signature_headers(case) {
            let original = case.request.header(&name).unwrap_or_default();
            let tokens = signature_tokens(original);
            for _ in 0..60 {
                let value = mutate(&mut rng, original.as_bytes());
                let req = with_header(&case.request, &name, &value);
                for verifier in &verifiers {
                    // Mostly the vector's time, sometimes the extremes `--at` allows.
                    let now = [case.now, case.now, case.now, 0, i64::MIN, i64::MAX][rng.below(6)];
                    let verdict = verifier.check(&req, case.url.as_deref(), now);
                    checked += 1;
                    if !signature_like(&name) || !verdict.as_ref().is_some_and(Verdict::is_valid) {
                        continue;
                    }
                    // Valid only while a genuine signature survives the mutation (an
                    // added unknown entry, a repeated header, hex case where it is decoded).
                    let text = String::from_utf8_lossy(&value).to_ascii_lowercase();
                    assert!(
                        tokens.iter().any(|t| text.contains(t.as_str()))
                            || text == original.to_ascii_lowercase(),
                        "{}: mutated {name} still valid: {text:?}",
                        case.id
                    );
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn the_reasons_say_what_is_wrong() {
    let case = cases()
        .into_iter()
        .find(|c| c.id == "stripe-valid")
        .expect("the vector exists");
    let verifier = case.verifier();
    let reason = |value: &str| match verifier.check(
        &with_header(&case.request, "stripe-signature", value.as_bytes()),
        None,
        case.now,
    ) {
        Some(Verdict::Invalid { reason, .. }) => reason,
        other => panic!("{value:.40}: {other:?}"),
    };
    assert!(reason("t=,v1=abc").contains("not a number"));
    assert!(reason("v1=abc").contains("no t= timestamp"));
    assert!(reason(&vec!["v1=00"; 5000].join(",")).contains("more than 64 items"));
    assert!(reason("t=1749999990,v1=").contains("does not match"));
    assert!(reason("t=1749999990,v0=abc").contains("no signature this scheme uses"));
}
