//! Replay end to end: a real app on 127.0.0.1:0, the forwarder, the store, and the
//! `hooktap replay` binary against a store a running `listen` writes to.

use crate::common;

use std::time::{Duration, Instant};

use common::cli::run;
use common::replay::{
    Send, capture_via_cli, forwarder, headers_but_forwarded_for, require_subcommand,
};
use common::{App, Capture};
use hooktap::capture::Target;
use hooktap::exchange::Source;
use hooktap::replay::{Pacer, ReplayError, ReplayOptions, replay_all, replay_one};
use serde_json::Value;

const LIMIT: usize = 10 * 1024 * 1024;

#[tokio::test]
async fn a_replay_reaches_the_app_byte_identical_and_is_recorded_with_replay_of() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    let body: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let request = Send::post("/hooks/in?attempt=1&x=%2F", &body)
        .header("content-type", "application/octet-stream")
        .header("x-dup", "1")
        .header("x-dup", "2")
        .header("stripe-signature", "t=1,v1=abc");
    common::send(request.to(&capture.url(""))).await;
    let first = app.next().await;
    let original = capture.next().await;

    let forwarder = forwarder(&capture.store, &app);
    let replayed = replay_one(&forwarder, &original, &ReplayOptions::default())
        .await
        .unwrap();
    let second = app.next().await;

    assert_eq!(second.method, "POST");
    assert_eq!(second.uri, "/hooks/in?attempt=1&x=%2F");
    assert_eq!(second.body, first.body, "the body is byte-identical");
    assert_eq!(
        headers_but_forwarded_for(&second.headers),
        headers_but_forwarded_for(&first.headers),
        "the same headers in the same order, duplicates kept"
    );
    let ex = &replayed.exchange;
    assert_eq!(ex.replay_of.as_ref(), Some(&original.id));
    assert_eq!(ex.source, Source::Replay);
    assert_eq!(ex.status(), Some(201));
    assert_eq!(ex.request.body.bytes, body);
    assert_eq!(replayed.differs, Some(false), "the app answered the same");
    let stored = capture.store.get(ex.id.as_str()).unwrap();
    assert_eq!(
        stored.replay_of.as_ref(),
        Some(&original.id),
        "it is in the store"
    );
    assert_eq!(
        stored.target, original.target,
        "sent where the original went"
    );
}

#[tokio::test]
async fn to_sends_elsewhere_and_a_cut_body_is_refused_with_the_reason() {
    let mut app = App::start().await;
    let mut other = App::start().await;
    let mut capture = Capture::start(
        &format!("http://127.0.0.1:{}/base", app.port()),
        Duration::from_secs(10),
        16,
    )
    .await;
    common::send(Send::post("/small", b"tiny").to(&capture.url(""))).await;
    app.next().await;
    let small = capture.next().await;
    common::send(Send::post("/big", &[7u8; 100]).to(&capture.url(""))).await;
    app.next().await;
    let big = capture.next().await;
    assert!(big.request.body.truncated());

    let forwarder = forwarder(&capture.store, &app);
    let to = Target::parse(&format!("http://127.0.0.1:{}/v2", other.port())).unwrap();
    let replayed = replay_one(
        &forwarder,
        &small,
        &ReplayOptions {
            to: Some(to),
            resign: None,
        },
    )
    .await
    .unwrap();
    let got = other.next().await;
    assert_eq!(
        got.uri, "/v2/small",
        "the original path is joined onto --to"
    );
    assert_eq!(&got.body[..], b"tiny");
    assert!(replayed.exchange.target.ends_with("/v2/small"));

    let replayed = replay_one(&forwarder, &small, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(
        app.next().await.uri,
        "/base/small",
        "the original base path is kept"
    );
    assert_eq!(replayed.exchange.status(), Some(201));

    // An app that is down: the replay is recorded as failed, with the reason.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = ReplayOptions {
        to: Some(Target::parse(&closed_port.to_string()).unwrap()),
        resign: None,
    };
    let replayed = replay_one(&forwarder, &small, &down).await.unwrap();
    assert_eq!(replayed.exchange.status(), None);
    let error = replayed.exchange.error.as_deref().unwrap_or_default();
    assert!(error.contains("could not reach the app"), "{error}");
    assert_eq!(replayed.differs, Some(true), "no answer differs from a 201");
    assert_eq!(
        capture
            .store
            .get(replayed.exchange.id.as_str())
            .unwrap()
            .error
            .as_deref(),
        Some(error)
    );

    match replay_one(&forwarder, &big, &ReplayOptions::default()).await {
        Err(ReplayError::Refused(reason)) => {
            assert!(reason.contains("cut at the capture limit"), "{reason}")
        }
        other => panic!("a cut body must be refused, got {other:?}"),
    }
    assert!(app.received.try_recv().is_err(), "nothing was sent");
}

#[tokio::test]
async fn rate_paces_the_starts_and_order_is_kept() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let path = format!("/n/{i}");
        common::send(Send::post(&path, b"x").to(&capture.url(""))).await;
        app.next().await;
        ids.push(capture.next().await.id.clone());
    }
    let forwarder = forwarder(&capture.store, &app);
    let pacer = Pacer::new(Some(20.0));
    let started = Instant::now();
    let mut reported = Vec::new();
    let store = capture.store.clone();
    replay_all(
        &forwarder,
        ids.iter().map(|id| (id.clone(), None)).collect(),
        &ReplayOptions::default(),
        2,
        &pacer,
        |id| store.get(id.as_str()).map_err(|e| e.to_string()),
        |id, outcome| reported.push((id.clone(), outcome.unwrap().exchange.status())),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(140),
        "4 starts at 20/s take at least 150 ms, took {elapsed:?}"
    );
    let order: Vec<_> = reported.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(order, ids, "reported in the original order");
    assert!(reported.iter().all(|(_, s)| *s == Some(201)));
    let mut paths = Vec::new();
    for _ in 0..4 {
        paths.push(app.next().await.uri);
    }
    paths.sort();
    assert_eq!(paths, ["/n/0", "/n/1", "/n/2", "/n/3"]);
}

#[tokio::test]
async fn cli_failed_replays_exactly_the_failed_ones_in_order_beside_a_running_listen() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let paths = [
        "/ok/1",
        "/status/500",
        "/ok/2",
        "/status/404",
        "/status/503",
    ];
    let sends: Vec<Send> = paths.iter().map(|p| Send::post(p, b"hello")).collect();
    let ids = capture_via_cli(&mut app, &store, &sends, &[]).await;

    let out = run(&["replay", "--failed", "--json", "--store", store_arg]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let originals: Vec<&str> = lines
        .iter()
        .map(|l| l["original"].as_str().unwrap())
        .collect();
    assert_eq!(
        originals,
        [&ids[1], &ids[3], &ids[4]],
        "the failed ones, in order"
    );
    for (line, status) in lines.iter().zip([500, 404, 503]) {
        assert_eq!(line["status"], status);
        assert_eq!(line["differs"], false);
    }
    for path in ["/status/500", "/status/404", "/status/503"] {
        assert_eq!(app.next().await.uri, path, "sent in the original order");
    }
    assert_eq!(out.status.code(), Some(1), "the replays still fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 of 3 replays failed"), "{stderr}");

    // Replays are recorded beside the running listen's records, with replay_of set.
    let new_id = lines[0]["id"].as_str().unwrap();
    let shown = common::cli::run_json(&["show", new_id, "--json", "--store", store_arg]).await;
    assert_eq!(shown["replay_of"], ids[1].as_str());
    assert_eq!(shown["source"], "replay");

    // A second --failed run does not pick up the failed replays.
    let out = run(&["replay", "--failed", "--json", "--store", store_arg]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    for _ in 0..3 {
        app.next().await;
    }

    // By id prefix, with --path narrowing, in human form.
    let out = run(&["replay", &ids[2][..10], &ids[0], "--store", store_arg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let first_line = text.lines().next().unwrap();
    assert!(first_line.starts_with(&format!("{} -> ", ids[0])), "{text}");
    assert!(
        first_line.contains("  201  ") && first_line.ends_with("same"),
        "{text}"
    );
    assert_eq!(app.next().await.uri, "/ok/1");
    assert_eq!(app.next().await.uri, "/ok/2");

    // --path and --since narrow the filters; the replays made above are not picked again.
    let out = run(&[
        "replay", "--path", "/ok", "--since", "1h", "--json", "--store", store_arg,
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let originals: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["original"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(originals, [ids[0].clone(), ids[2].clone()]);
    let out = run(&[
        "replay",
        "--since",
        "2000-01-01T00:00:00Z",
        "--path",
        "/nothing",
        "--store",
        store_arg,
    ])
    .await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to replay"));
}

#[tokio::test]
async fn cli_refuses_what_it_cannot_do_with_one_sentence() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let sends = [Send::post("/big", &[1u8; 64])];
    let ids = capture_via_cli(&mut app, &store, &sends, &["--capture-limit", "10"]).await;

    let out = run(&["replay", &ids[0], "--store", store_arg]).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("not replayed: its body was cut at the capture limit (stored 10 B of 64 B)"),
        "{stdout}"
    );
    assert!(app.received.try_recv().is_err());

    let out = run(&["replay", "--store", store_arg]).await;
    assert_eq!(out.status.code(), Some(2), "no selection is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("say which requests to replay"));
    let out = run(&["replay", "zzzzzz", "--store", store_arg]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request with id"));
    let out = run(&["replay", &ids[0], "--to", "ftp://x", "--store", store_arg]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn cli_failed_again_skips_originals_a_replay_already_fixed_unless_again() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let sends = [
        Send::post("/status/500", b"one"),
        Send::post("/status/503", b"two"),
    ];
    let ids = capture_via_cli(&mut app, &store, &sends, &[]).await;

    // The first one is fixed by a replay (the app answers /v2/... with 201).
    let fixed = format!("http://127.0.0.1:{}/v2", app.port());
    let out = run(&["replay", &ids[0], "--to", &fixed, "--store", store_arg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.next().await.uri, "/v2/status/500");

    let originals = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["original"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let out = run(&["replay", "--failed", "--json", "--store", store_arg]).await;
    assert_eq!(
        originals(&out),
        [ids[1].clone()],
        "the fixed one is not resent"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 request already replayed successfully")
            && stderr.contains("--again"),
        "{stderr}"
    );
    assert_eq!(app.next().await.uri, "/status/503");

    let out = run(&[
        "replay", "--failed", "--again", "--json", "--store", store_arg,
    ])
    .await;
    assert_eq!(originals(&out), [ids[0].clone(), ids[1].clone()]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("skipped"));
    assert_eq!(app.next().await.uri, "/status/500");
    assert_eq!(app.next().await.uri, "/status/503");
}
