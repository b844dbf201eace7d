use super::*;
use crate::signature::Verdict;

const NOW: i64 = 1_750_000_000;
const URL: &str = "http://127.0.0.1:4747/webhooks";

/// What `hooktap listen --verify provider=…` would say: the provider detected from the
/// headers, not pinned.
fn listen_verdict(provider: &str, req: &RecordedRequest) -> Option<Verdict> {
    let secret =
        crate::signature::Secret::for_provider(provider, sign::sample_secret(provider)).unwrap();
    crate::signature::Verifier::new([(provider.to_string(), secret)], Vec::new(), None).check(
        req,
        Some(URL),
        NOW,
    )
}

#[test]
fn every_asset_file_is_in_the_catalogue_and_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/events");
    let mut files = Vec::new();
    for provider in std::fs::read_dir(dir).unwrap() {
        let provider = provider.unwrap();
        for file in std::fs::read_dir(provider.path()).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            let event = name.strip_suffix(".json").expect("only .json files");
            files.push(format!(
                "{}.{event}",
                provider.file_name().into_string().unwrap()
            ));
        }
    }
    files.sort();
    let mut names: Vec<String> = all().iter().map(|e| e.name.to_string()).collect();
    names.sort();
    assert_eq!(files, names);
    for (name, text) in CATALOGUE {
        Event::parse(name, text).unwrap();
    }
}

#[test]
fn every_event_signs_and_verifies_with_hooktaps_own_verifier() {
    for event in all() {
        let verifier = sign::test_verifier(event.provider);
        let req = prepare(&event, None, &verifier, URL, NOW, Mode::Valid)
            .unwrap_or_else(|e| panic!("{}: {e}", event.name));
        let text = String::from_utf8_lossy(&req.body.bytes).into_owned();
        assert!(
            !text.contains("{{"),
            "{}: placeholder left: {text}",
            event.name
        );
        for (name, value) in &req.headers {
            assert!(!value.contains(&b'{'), "{}: header {name}", event.name);
        }
        assert!(
            serde_json::from_slice::<Value>(&req.body.bytes).is_ok(),
            "{}",
            event.name
        );
        assert_eq!(
            listen_verdict(event.provider, &req),
            Some(Verdict::Valid {
                provider: event.provider.to_string()
            }),
            "{}",
            event.name
        );
        assert!(
            delivery_id(&req).is_some(),
            "{}: no delivery id",
            event.name
        );
    }
}

#[test]
fn tampered_events_are_invalid_and_stale_ones_expired() {
    let timestamped = sign::timestamped_providers();
    for provider in ["stripe", "slack", "standard-webhooks", "svix", "twitch"] {
        assert!(timestamped.contains(&provider), "{provider}");
    }
    assert!(!timestamped.contains(&"github"));
    for event in all() {
        let verifier = sign::test_verifier(event.provider);
        let tampered = prepare(&event, None, &verifier, URL, NOW, Mode::Tamper).unwrap();
        assert!(
            matches!(
                listen_verdict(event.provider, &tampered),
                Some(Verdict::Invalid { .. })
            ),
            "{}",
            event.name
        );
        assert!(serde_json::from_slice::<Value>(&tampered.body.bytes).is_ok());
        match prepare(&event, None, &verifier, URL, NOW, Mode::Stale) {
            Ok(stale) => {
                assert!(timestamped.contains(&event.provider), "{}", event.name);
                assert!(
                    matches!(
                        listen_verdict(event.provider, &stale),
                        Some(Verdict::Expired { skew_secs, .. }) if skew_secs >= STALE_SECS - 1
                    ),
                    "{}",
                    event.name
                );
            }
            Err(err) => {
                assert!(!timestamped.contains(&event.provider), "{}", event.name);
                assert!(err.contains("signs no timestamp"), "{err}");
                assert!(err.contains("stripe"), "{err}");
            }
        }
    }
}

#[test]
fn fresh_values_differ_per_delivery_and_repeat_within_one() {
    let event = find("stripe.payment_intent.succeeded").unwrap();
    let one: Value = serde_json::from_slice(&event.request(NOW, None).body.bytes).unwrap();
    let two: Value = serde_json::from_slice(&event.request(NOW, None).body.bytes).unwrap();
    assert_ne!(one["id"], two["id"]);
    assert!(one["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(one["created"], NOW);
    assert_eq!(one["created"], one["data"]["object"]["created"]);
    let push = find("github.push").unwrap().request(NOW, None);
    let delivery = push.header("x-github-delivery").unwrap();
    assert_eq!(delivery.len(), 36);
    assert_eq!(&delivery[14..15], "4");
}

#[test]
fn names_resolve_and_unknown_ones_say_what_exists() {
    assert_eq!(find("GitHub.Push").unwrap().name, "github.push");
    assert_eq!(
        find("stripe").unwrap().name,
        "stripe.payment_intent.succeeded"
    );
    let err = find("github.pushh").unwrap_err();
    assert!(err.contains("github.push, github.ping"), "{err}");
    let err = find("acme.thing").unwrap_err();
    assert!(err.contains("github, stripe"), "{err}");
}

#[test]
fn tampering_keeps_json_json_and_changes_the_bytes() {
    assert_eq!(tamper_body(b"{}").bytes, br#"{"tampered":true}"#);
    assert_eq!(
        tamper_body(br#"{"a":1}"#).bytes,
        br#"{"tampered":true,"a":1}"#
    );
    assert_eq!(tamper_body(b"a=1&b=2").bytes, b"a=1&b=2&tampered=1");
    assert_eq!(tamper_body(b"plain text").bytes, b"plain text\ntampered\n");
}

#[test]
fn a_body_of_ones_own_is_signed_with_the_events_headers() {
    let event = find("github").unwrap();
    let verifier = sign::test_verifier("github");
    let req = prepare(
        &event,
        Some(b"{\"mine\":1}".to_vec()),
        &verifier,
        URL,
        NOW,
        Mode::Valid,
    )
    .unwrap();
    assert_eq!(req.body.bytes, b"{\"mine\":1}");
    assert_eq!(req.header("x-github-event"), Some("push"));
    assert!(listen_verdict("github", &req).is_some_and(|v| v.is_valid()));
}
