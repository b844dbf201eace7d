//! `replay --resign` with real schemes: an expired Stripe request and an expired Standard
//! Webhooks request become ones the schemes verify, checked here independently of
//! hooktap's own verifier.

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::App;
use common::cli::{run, run_json};
use common::replay::{Send, capture_via_cli, require_subcommand};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

const STRIPE_SECRET: &str = "whsec_test_stripe_5f2b9c";
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sw_key() -> Vec<u8> {
    B64.decode(SW_SECRET.strip_prefix("whsec_").unwrap())
        .unwrap()
}

/// Stripe's check: `t=…,v1=…`, v1 = HMAC-SHA256(secret, "t.body"), t within 300 s.
fn stripe_valid(header: &str, body: &[u8], at: i64) -> bool {
    let field = |k: &str| {
        header
            .split(',')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let (Some(t), Some(v1)) = (field("t"), field("v1")) else {
        return false;
    };
    let stamp: i64 = t.parse().unwrap();
    let expected = hmac(
        STRIPE_SECRET.as_bytes(),
        &[t.as_bytes(), b".", body].concat(),
    );
    (at - stamp).abs() <= 300 && hex::encode(expected) == v1
}

/// Standard Webhooks: `v1,base64(HMAC-SHA256(key, "id.ts.body"))`, ts within 300 s.
fn standard_valid(id: &str, ts: &str, sig: &str, body: &[u8], at: i64) -> bool {
    let expected = hmac(
        &sw_key(),
        &[id.as_bytes(), b".", ts.as_bytes(), b".", body].concat(),
    );
    let stamp: i64 = ts.parse().unwrap();
    (at - stamp).abs() <= 300
        && sig
            .split(' ')
            .any(|s| s == format!("v1,{}", B64.encode(&expected)))
}

#[tokio::test]
async fn resign_turns_expired_stripe_and_standard_webhooks_requests_into_valid_ones() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;

    let old = (now() - 3600).to_string();
    let stripe_body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    let stripe_sig = format!(
        "t={old},v1={}",
        hex::encode(hmac(
            STRIPE_SECRET.as_bytes(),
            &[old.as_bytes(), b".", stripe_body].concat()
        ))
    );
    let sw_body = br#"{"type":"user.created","data":{"id":7}}"#;
    let sw_sig = format!(
        "v1,{}",
        B64.encode(hmac(
            &sw_key(),
            &[b"msg_old.".as_slice(), old.as_bytes(), b".", sw_body].concat()
        ))
    );
    assert!(
        stripe_valid(&stripe_sig, stripe_body, now() - 3600),
        "the helper agrees with the original"
    );
    let sends = [
        Send::post("/stripe", stripe_body)
            .header("content-type", "application/json")
            .header("stripe-signature", &stripe_sig),
        Send::post("/sw", sw_body)
            .header("content-type", "application/json")
            .header("webhook-id", "msg_old")
            .header("webhook-timestamp", &old)
            .header("webhook-signature", &sw_sig),
    ];
    let stripe_flag = format!("stripe={STRIPE_SECRET}");
    let sw_flag = format!("standard-webhooks={SW_SECRET}");
    let secrets = ["--verify", &stripe_flag, "--verify", &sw_flag];
    let ids = capture_via_cli(&mut app, &store, &sends, &secrets).await;
    for id in &ids {
        let shown = run_json(&["show", id, "--json", "--store", store_arg]).await;
        assert_eq!(
            shown["verdict"]["verdict"], "expired",
            "{id}: {}",
            shown["verdict"]
        );
    }

    // Without --resign the old signature goes out unchanged, and the line says it is old.
    let out = run(&[&["replay", &ids[0], "--store", store_arg][..], &secrets].concat()).await;
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("  sig:expired (stripe)"), "{line}");
    assert_eq!(
        app.next().await.header("stripe-signature").unwrap(),
        stripe_sig
    );

    let mut args = vec![
        "replay", &ids[0], &ids[1], "--resign", "--json", "--store", store_arg,
    ];
    args.extend_from_slice(&secrets);
    let out = run(&args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["resigned"], "stripe");
    assert_eq!(lines[1]["resigned"], "standard-webhooks");
    for line in &lines {
        assert_eq!(line["verdict"]["verdict"], "valid", "{line}");
    }

    let got = app.next().await;
    assert_eq!(&got.body[..], stripe_body, "the body is unchanged");
    let header = got.header("stripe-signature").unwrap();
    assert_ne!(header, stripe_sig);
    assert!(
        stripe_valid(&header, &got.body, now()),
        "Stripe verifies {header}"
    );

    let got = app.next().await;
    let (id, ts, sig) = (
        got.header("webhook-id").unwrap(),
        got.header("webhook-timestamp").unwrap(),
        got.header("webhook-signature").unwrap(),
    );
    assert_ne!(id, "msg_old", "a fresh message id");
    assert!(
        standard_valid(&id, &ts, &sig, &got.body, now()),
        "Standard Webhooks verifies {sig}"
    );
    assert_eq!(got.all("webhook-signature").len(), 1);

    // The replays are recorded with their new signatures, which check as valid.
    let shown = run_json(&[
        "show",
        lines[0]["id"].as_str().unwrap(),
        "--json",
        "--store",
        store_arg,
    ])
    .await;
    assert_eq!(shown["verdict"]["verdict"], "valid", "{}", shown["verdict"]);

    let out = run(&["replay", &ids[0], "--resign", "--store", store_arg]).await;
    assert_eq!(out.status.code(), Some(2), "no secret is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resign needs the signing secret"));
}

#[tokio::test]
async fn the_api_resigns_when_asked_and_says_why_it_cannot() {
    use bytes::Bytes;
    use hooktap::api::ApiServer;
    use hooktap::config::{SecretSources, verifier};
    use hooktap::secret::Secret;
    use http_body_util::Full;
    use hyper::Request;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    let mut app = App::start().await;
    let mut capture =
        common::Capture::start(&app.port().to_string(), Duration::from_secs(10), 1 << 20).await;
    let old = (now() - 3600).to_string();
    let body = br#"{"id":"evt_2"}"#;
    let sig = format!(
        "t={old},v1={}",
        hex::encode(hmac(
            STRIPE_SECRET.as_bytes(),
            &[old.as_bytes(), b".", body].concat()
        ))
    );
    common::send(
        Send::post("/s", body)
            .header("stripe-signature", &sig)
            .to(&capture.url("")),
    )
    .await;
    app.next().await;
    let original = capture.next().await;

    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let mut apis = Vec::new();
    for secrets in [vec![format!("stripe={STRIPE_SECRET}")], vec![]] {
        // No --config: ./hooktap.toml is used if present, and the crate root has none.
        let flags: Vec<Secret> = secrets.into_iter().map(Secret::verbatim).collect();
        let verifier = verifier(SecretSources {
            flags: &flags,
            ..SecretSources::default()
        })
        .unwrap();
        let server = ApiServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            common::replay::forwarder(&capture.store, &app),
            false,
            None,
        )
        .await
        .unwrap()
        .with_verifier(verifier);
        apis.push(format!(
            "http://{}/api/requests/{}/replay",
            server.local_addr().unwrap(),
            original.id
        ));
        tokio::spawn(server.run(stop.clone()));
    }
    let post = |url: &str, body: &'static str| {
        Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let (status, _, answer) = common::send(post(&apis[0], r#"{"resign": true}"#)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["resigned"], "stripe");
    let got = app.next().await;
    let header = got.header("stripe-signature").unwrap();
    assert!(
        stripe_valid(&header, &got.body, now()),
        "Stripe verifies {header}"
    );

    let (status, _, answer) = common::send(post(&apis[1], r#"{"resign": true}"#)).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&answer).contains("resign needs the signing secret"));
    assert!(app.received.try_recv().is_err(), "nothing sent unsigned");
}

#[tokio::test]
async fn resigning_happens_after_an_edit_on_the_request_about_to_be_sent() {
    use hooktap::replay::{ReplayError, ReplayOptions, Resign, replay_one, replay_request};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    const LIMIT: usize = 10 * 1024 * 1024;
    let mut app = App::start().await;
    let mut capture =
        common::Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    common::send(
        Send::post("/sig?x=1", b"abc")
            .header("x-sig", "old")
            .to(&capture.url("")),
    )
    .await;
    app.next().await;
    let original = capture.next().await;

    let urls = Arc::new(Mutex::new(Vec::new()));
    let seen = urls.clone();
    let resign: Resign = Arc::new(move |req, url| {
        seen.lock().unwrap().push(url.to_string());
        let sig = format!("new:{}", String::from_utf8_lossy(&req.body.bytes));
        for (name, value) in req.headers.iter_mut() {
            if name == "x-sig" {
                *value = sig.clone().into_bytes();
            }
        }
        Ok("fake".into())
    });
    let opts = ReplayOptions {
        to: None,
        resign: Some(resign),
    };
    let mut edited = original.request.clone();
    edited.body = hooktap::exchange::Body::full(b"abcdef".to_vec());
    hooktap::web::message::fix_content_length(&mut edited);
    let forwarder = common::replay::forwarder(&capture.store, &app);
    let replayed = replay_request(&forwarder, &original, &edited, &opts)
        .await
        .unwrap();
    let got = app.next().await;
    assert_eq!(
        got.header("x-sig").as_deref(),
        Some("new:abcdef"),
        "signed after the edit"
    );
    assert_eq!(&got.body[..], b"abcdef");
    assert_eq!(replayed.resigned.as_deref(), Some("fake"));
    assert_eq!(
        urls.lock().unwrap().as_slice(),
        [format!("http://127.0.0.1:{}/sig?x=1", app.port())]
    );

    let failing: Resign = Arc::new(|_, _| Err("no secret is configured for stripe".into()));
    let opts = ReplayOptions {
        to: None,
        resign: Some(failing),
    };
    match replay_one(&forwarder, &original, &opts).await {
        Err(ReplayError::Refused(why)) => {
            assert_eq!(why, "cannot re-sign it: no secret is configured for stripe")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(app.received.try_recv().is_err(), "nothing sent unsigned");
}
