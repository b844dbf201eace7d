//! The one record filter: the same flags narrow `requests` and `replay`, and the same
//! terms narrow the API's listing, page by page.

use crate::common;

use bytes::Bytes;
use common::cli::{Listen, run, run_json};
use common::{App, send};
use http_body_util::Full;
use hyper::Request;
use serde_json::Value;

async fn hit(capture: &str, method: &str, path: &str) {
    let req = Request::builder()
        .method(method)
        .uri(format!("{capture}{path}"))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    send(req).await;
}

fn paths(rows: &Value) -> Vec<String> {
    let mut out: Vec<String> = rows
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn requests_and_replay_share_method_status_and_source_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("f.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--json"]).await;
    let capture = listen.capture_url();
    for (method, path) in [
        ("POST", "/status/500"),
        ("PUT", "/status/503"),
        ("POST", "/status/404"),
        ("POST", "/ok"),
    ] {
        hit(&capture, method, path).await;
        app.next().await;
        listen.next_event().await;
    }

    let five = run_json(&[
        "requests", "--json", "--status", "5xx", "--store", store_arg,
    ])
    .await;
    assert_eq!(paths(&five), ["POST /status/500", "PUT /status/503"]);
    let put = run_json(&[
        "requests", "--json", "--status", "5xx", "--method", "put", "--store", store_arg,
    ])
    .await;
    assert_eq!(paths(&put), ["PUT /status/503"]);
    let none = run(&["requests", "--source", "queued", "--store", store_arg]).await;
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no requests match --source queued"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let bad = run(&["requests", "--status", "7xx", "--store", store_arg]).await;
    assert_eq!(bad.status.code(), Some(2), "a bad status is a usage error");

    // The same flags choose what `replay` sends: the 404 only.
    let out = run(&[
        "replay", "--status", "4xx", "--method", "POST", "--json", "--store", store_arg,
    ])
    .await;
    // The app answers 404 again, so the one replay fails (exit 1), as `replay` reports.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 1 replays failed"), "{stderr}");
    assert_eq!(app.next().await.uri, "/status/404");
    let replays = run_json(&[
        "requests", "--json", "--source", "replay", "--store", store_arg,
    ])
    .await;
    assert_eq!(paths(&replays), ["POST /status/404"]);
}
