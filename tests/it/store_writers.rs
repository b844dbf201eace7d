//! Several processes writing one store: two `hooktap listen`s under concurrent senders and
//! three concurrent `hooktap replay` runs. Every request is recorded exactly once, and
//! every id a command prints names the exchange it describes.

use crate::common;

use std::collections::HashMap;

use bytes::Bytes;
use common::App;
use common::cli::{BIN, Listen, run_json};
use http_body_util::Full;
use serde_json::Value;

const PER_LISTEN: usize = 40;
const SEEDS: usize = 20;

/// Posts `/{prefix}/{i}` for every i, 8 at a time, to `base`.
async fn send_all(base: String, prefix: &'static str, count: usize) {
    let client = common::client();
    let mut tasks = tokio::task::JoinSet::new();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    for i in 0..count {
        let (client, base, gate) = (client.clone(), base.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let req = http::Request::post(format!("{base}/{prefix}/{i}"))
                .body(Full::new(Bytes::from(format!("{{\"n\":{i}}}"))))
                .unwrap();
            let status = client.request(req).await.expect("sent").status();
            assert!(status.is_success(), "{prefix}/{i}: {status}");
        });
    }
    while let Some(done) = common::within(tasks.join_next()).await {
        done.unwrap();
    }
}

/// The ids and paths of the next `count` request events.
async fn events(listen: &mut Listen, count: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = listen.next_event().await;
        if event["event"] == "request" {
            seen.push((
                event["id"].as_str().unwrap().to_string(),
                event["path"].as_str().unwrap().to_string(),
            ));
        }
    }
    seen
}

#[tokio::test]
async fn two_listens_and_three_replays_on_one_store_keep_every_request_once() {
    let _app = App::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("shared.db");
    let port = _app.port().to_string();
    let mut a = Listen::start(&port, &store, &["--json"]).await;
    let mut b = Listen::start(&port, &store, &["--json"]).await;
    let (url_a, url_b) = (a.capture_url(), b.capture_url());

    send_all(url_a.clone(), "seed", SEEDS).await;
    let mut printed = events(&mut a, SEEDS).await;

    // Live traffic into both listens while three replays of the seeds run beside them.
    let store_arg = store.display().to_string();
    let replays: Vec<_> = (0..3)
        .map(|_| {
            let store_arg = store_arg.clone();
            tokio::spawn(async move {
                common::within(
                    tokio::process::Command::new(BIN)
                        .args(["replay", "--path", "/seed", "--concurrency", "8", "--json"])
                        .args(["--store", &store_arg])
                        .output(),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let live = tokio::join!(
        send_all(url_a, "a", PER_LISTEN),
        send_all(url_b, "b", PER_LISTEN),
        async {
            let (from_a, from_b) =
                tokio::join!(events(&mut a, PER_LISTEN), events(&mut b, PER_LISTEN));
            (from_a, from_b)
        }
    );
    let (from_a, from_b) = live.2;
    printed.extend(from_a);
    printed.extend(from_b);

    let mut replayed = Vec::new();
    for replay in replays {
        let out = replay.await.unwrap();
        assert!(
            out.status.success(),
            "replay failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            replayed.push((
                line["original"].as_str().unwrap().to_string(),
                line["id"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(replayed.len(), 3 * SEEDS);
    drop((a, b));

    let listed = run_json(&[
        "requests", "--json", "--limit", "1000", "--store", &store_arg,
    ])
    .await;
    let listed = listed.as_array().unwrap();
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    let by_id: HashMap<&str, &Value> = listed
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s))
        .collect();
    assert_eq!(by_id.len(), listed.len(), "ids are unique");
    for summary in listed {
        if summary["replay_of"].is_null() {
            *by_path
                .entry(summary["path"].as_str().unwrap())
                .or_default() += 1;
        }
    }
    for (prefix, count) in [("seed", SEEDS), ("a", PER_LISTEN), ("b", PER_LISTEN)] {
        for i in 0..count {
            let path = format!("/{prefix}/{i}");
            assert_eq!(by_path.get(path.as_str()), Some(&1), "{path} recorded once");
        }
    }
    assert_eq!(
        listed.len(),
        SEEDS + 2 * PER_LISTEN + 3 * SEEDS,
        "nothing more, nothing less"
    );
    // Every id printed names the exchange it was printed for.
    for (id, path) in &printed {
        assert_eq!(by_id[id.as_str()]["path"], path.as_str(), "event id {id}");
    }
    for (original, id) in &replayed {
        let record = by_id[id.as_str()];
        assert_eq!(record["replay_of"], original.as_str(), "replay id {id}");
        assert_eq!(record["source"], "replay");
    }
}
