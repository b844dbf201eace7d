//! The local API end to end: a real `hooktap listen` serving it, a real app, and the
//! access rules (loopback, token, web pages).

use crate::common;

use bytes::Bytes;
use common::cli::{BIN, run};
use common::replay::{forwarder, memory_store, require_subcommand};
use common::{App, send, within};
use hooktap::api::ApiServer;
use hooktap::secret::Secret;
use http_body_util::Full;
use hyper::Request;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

async fn call(method: &str, url: &str, body: &str) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let (status, _, body) = send(req).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_lists_reads_replays_and_clears_beside_a_running_listen() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut app = App::start().await;
    let mut other = App::start().await;
    let mut child = Command::new(BIN)
        .args(["listen", &app.port().to_string(), "--json"])
        .args([
            "--capture-addr",
            "127.0.0.1:0",
            "--api-addr",
            "127.0.0.1:0",
            "--store",
        ])
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_event = async || -> Value {
        let line = within(lines.next_line()).await.unwrap().unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let ready = next_event().await;
    let capture = format!("http://{}", ready["capture_addr"].as_str().unwrap());
    let api = format!(
        "http://{}/api",
        ready["api_addr"].as_str().expect("api_addr in ready")
    );

    let mut ids = Vec::new();
    for path in ["/ok/1", "/status/500", "/ok/2"] {
        let (status, _, _) = send(
            Request::post(format!("{capture}{path}"))
                .body(Full::new(Bytes::from_static(b"{\"n\":1}")))
                .unwrap(),
        )
        .await;
        assert!(status == 201 || status == 500);
        app.next().await;
        ids.push(next_event().await["id"].as_str().unwrap().to_string());
    }

    let (status, list) = call("GET", &format!("{api}/requests"), "").await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [&ids[2], &ids[1], &ids[0]], "newest first");
    let (_, one) = call("GET", &format!("{api}/requests?limit=1"), "").await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (_, failed) = call("GET", &format!("{api}/requests?failed=true"), "").await;
    let failed: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, [&ids[1]]);

    let (status, shown) = call("GET", &format!("{api}/requests/{}", &ids[1][..9]), "").await;
    assert_eq!(status, 200);
    assert_eq!(shown["id"], ids[1].as_str());
    assert_eq!(shown["request"]["body"]["text"], "{\"n\":1}");
    assert_eq!(shown["response"]["status"], 500);

    let (status, replayed) = call("POST", &format!("{api}/requests/{}/replay", ids[0]), "").await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["original"], ids[0].as_str());
    assert_eq!(replayed["status"], 201);
    assert_eq!(replayed["differs"], false);
    assert_eq!(replayed["exchange"]["replay_of"], ids[0].as_str());
    assert_eq!(app.next().await.uri, "/ok/1");
    let event = next_event().await;
    assert_eq!(event["id"], replayed["id"], "listen shows the replay too");
    assert_eq!(event["source"], "replay");

    let body = format!("{{\"to\": \"http://127.0.0.1:{}/v2\"}}", other.port());
    let (status, replayed) =
        call("POST", &format!("{api}/requests/{}/replay", ids[1]), &body).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(
        replayed["status"], 201,
        "the other app answers /v2/status/500 with 201"
    );
    assert_eq!(replayed["differs"], true, "the original got 500");
    assert_eq!(other.next().await.uri, "/v2/status/500");
    next_event().await;

    let (status, err) = call("POST", &format!("{api}/requests/zzzzzzzz/replay"), "").await;
    assert_eq!(status, 404);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("no request with id")
    );
    let (status, _) = call(
        "POST",
        &format!("{api}/requests/{}/replay", ids[0]),
        "{\"to\": 5",
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call("PUT", &format!("{api}/requests"), "").await;
    assert_eq!(status, 405);
    let (status, _) = call("GET", &format!("{api}/nothing"), "").await;
    assert_eq!(status, 404);

    // A web page cannot drive it, not even through DNS rebinding.
    let page = Request::delete(format!("{api}/requests"))
        .header("origin", "http://evil.example")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(page).await.0, 403);
    let rebound = Request::get(format!("{api}/requests"))
        .header("host", "evil.example:4748")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(rebound).await.0, 403);

    let (status, _) = call("DELETE", &format!("{api}/requests"), "").await;
    assert_eq!(status, 200);
    let (_, list) = call("GET", &format!("{api}/requests"), "").await;
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test]
async fn a_non_loopback_api_needs_allow_remote_and_a_token() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store = store.to_str().unwrap();
    for extra in [&[][..], &["--api-allow-remote"][..]] {
        let mut args = vec![
            "listen",
            "5000",
            "--capture-addr",
            "127.0.0.1:0",
            "--api-addr",
            "0.0.0.0:0",
            "--store",
            store,
        ];
        args.extend_from_slice(extra);
        let out = run(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not on loopback") && stderr.contains("--api-token"),
            "{stderr}"
        );
    }

    // With a token, every request must carry it (checked here on loopback).
    let mut app = App::start().await;
    let store = memory_store();
    let token = Secret::verbatim("s3cret-token");
    let server = ApiServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        forwarder(&store, &app),
        true,
        Some(token),
    )
    .await
    .unwrap();
    let api = format!("http://{}/api/requests", server.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(server.run(stop.clone()));
    let _stop = stop.drop_guard();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("s3cret-token"),
        Some("Bearer s3cret-tokenX"),
    ] {
        let mut req = Request::get(&api);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let (status, headers, _) = send(req.body(Full::new(Bytes::new())).unwrap()).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    let req = Request::get(&api)
        .header("authorization", "Bearer s3cret-token")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(req).await.0, 200);
    assert!(app.received.try_recv().is_err());
}

#[tokio::test]
async fn json_bodies_and_output_keep_the_senders_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut app = App::start().await;
    let mut child = Command::new(BIN)
        .args(["listen", &app.port().to_string(), "--json"])
        .args([
            "--capture-addr",
            "127.0.0.1:0",
            "--api-addr",
            "127.0.0.1:0",
            "--store",
        ])
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_event = async || -> Value {
        let line = within(lines.next_line()).await.unwrap().unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let ready = next_event().await;
    let capture = format!("http://{}", ready["capture_addr"].as_str().unwrap());
    let api = format!("http://{}/api", ready["api_addr"].as_str().unwrap());
    send(
        Request::post(format!("{capture}/order"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"z":1,"a":2}"#)))
            .unwrap(),
    )
    .await;
    app.next().await;
    let id = next_event().await["id"].as_str().unwrap().to_string();
    let store = store.to_str().unwrap();

    let shown = run(&["show", &id, "--store", store]).await;
    let text = String::from_utf8_lossy(&shown.stdout);
    let (z, a) = (
        text.find("\"z\": 1").unwrap(),
        text.find("\"a\": 2").unwrap(),
    );
    assert!(z < a, "the body keeps its key order: {text}");

    // The JSON output keeps its own documented order too: `id` first, as in docs/api.md.
    let json = run(&["show", &id, "--json", "--store", store]).await;
    let json = String::from_utf8_lossy(&json.stdout);
    assert!(json.starts_with("{\n  \"id\""), "{json}");
    assert!(json.contains(r#""text": "{\"z\":1,\"a\":2}""#), "{json}");
    let req = Request::get(format!("{api}/requests/{id}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = send(req).await;
    assert_eq!(status, 200);
    let body = String::from_utf8_lossy(&body);
    assert!(body.starts_with("{\n  \"id\""), "{body}");
    assert!(body.contains(r#""text": "{\"z\":1,\"a\":2}""#), "{body}");
}

#[tokio::test]
async fn only_the_apis_own_origin_may_call_it() {
    let app = App::start().await;
    let store = memory_store();
    let server = ApiServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        forwarder(&store, &app),
        false,
        None,
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(server.run(stop.clone()));
    let _stop = stop.drop_guard();
    let api = format!("http://{addr}/api/requests");
    let other_port = addr.port().wrapping_add(1).max(1);
    for (origin, expected) in [
        (None, 200),
        (Some(format!("http://{addr}")), 200),
        (Some(format!("http://localhost:{}", addr.port())), 200),
        // A dev server on another port of this machine is another origin.
        (Some(format!("http://127.0.0.1:{other_port}")), 403),
        (Some(format!("http://localhost:{other_port}")), 403),
        (Some("http://evil.example".to_string()), 403),
    ] {
        let mut req = Request::delete(&api);
        if let Some(origin) = &origin {
            req = req.header("origin", origin);
        }
        let (status, _, _) = send(req.body(Full::new(Bytes::new())).unwrap()).await;
        assert_eq!(status, expected, "{origin:?}");
    }
}
