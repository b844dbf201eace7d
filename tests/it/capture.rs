//! The capture core end to end: a real capture listener forwarding to a real app,
//! recording into a real (in-memory) SQLite store.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::{App, Capture, send, within};
use http_body_util::Full;
use hyper::Request;

const LIMIT: usize = 10 * 1024 * 1024;

fn post(url: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(url)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

#[tokio::test]
async fn bodies_reach_the_app_byte_identical_and_are_recorded() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let cases: Vec<(&str, Bytes)> = vec![
        (
            "application/json",
            Bytes::from_static(br#"{"id":"evt_1","amount": 12.50 , "x":"\u00e9"}"#),
        ),
        (
            "application/x-www-form-urlencoded",
            Bytes::from_static(b"a=1&b=%20two+three&a=4"),
        ),
        ("application/octet-stream", Bytes::from(binary)),
        ("text/plain", Bytes::new()),
    ];
    for (content_type, body) in cases {
        let (status, headers, answer) = send(post(
            &capture.url("/webhooks/in?x=1&y=%2F"),
            content_type,
            body.clone(),
        ))
        .await;
        let got = app.next().await;
        assert_eq!(got.body_len, body.len() as u64, "{content_type}");
        assert_eq!(
            got.body, body,
            "{content_type}: the app got different bytes"
        );
        assert_eq!(got.uri, "/webhooks/in?x=1&y=%2F", "path and query are kept");
        assert_eq!(status, 201, "the sender gets the app's status");
        assert_eq!(headers["x-app"], "yes");
        assert_eq!(answer, format!("{{\"received\":{}}}", body.len()));

        let ex = capture.next().await;
        assert_eq!(ex.request.method, "POST");
        assert_eq!(ex.request.uri, "/webhooks/in?x=1&y=%2F");
        assert_eq!(
            ex.request.body.bytes, body,
            "{content_type}: the record differs"
        );
        assert!(!ex.request.body.truncated());
        let response = ex.response.as_ref().expect("a response is recorded");
        assert_eq!(response.status, 201);
        assert_eq!(response.body.bytes, answer);
        assert!(ex.error.is_none());
        assert!(!ex.failed());
        // The stored copy reads back identical.
        let stored = capture.store.get(ex.id.as_str()).unwrap();
        assert_eq!(stored, *ex);
    }
}

#[tokio::test]
async fn duplicate_headers_keep_their_order_and_hop_by_hop_headers_are_dropped() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    let req = Request::post(capture.url("/h"))
        .header("x-dup", "first")
        .header("x-dup", "second")
        .header("x-dup", "third")
        .header("connection", "x-private")
        .header("x-private", "hop")
        .header("keep-alive", "timeout=5")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let (status, headers, _) = send(req).await;
    assert_eq!(status, 201);
    let resp_dups: Vec<_> = headers.get_all("x-resp").iter().collect();
    assert_eq!(resp_dups, ["a", "b"], "response duplicates kept in order");

    let got = app.next().await;
    assert_eq!(got.all("x-dup"), ["first", "second", "third"]);
    assert_eq!(
        got.header("x-private"),
        None,
        "a header named by Connection is hop-by-hop"
    );
    assert_eq!(got.header("keep-alive"), None);
    assert_eq!(got.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(got.header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(
        got.header("x-forwarded-host"),
        Some(capture.addr.to_string())
    );
    assert_eq!(
        got.header("host"),
        Some(app.addr.to_string()),
        "the app sees its own Host"
    );

    let ex = capture.next().await;
    let dups: Vec<_> = ex
        .request
        .headers
        .iter()
        .filter(|(n, _)| n == "x-dup")
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(
        dups,
        [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
    assert!(
        ex.request.headers.iter().any(|(n, _)| n == "x-private"),
        "recorded as received"
    );
}

#[tokio::test]
async fn a_body_over_the_capture_limit_reaches_the_app_whole_and_is_stored_cut() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(30), LIMIT).await;
    let body: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (status, _, _) = send(post(
        &capture.url("/big"),
        "application/octet-stream",
        body.clone(),
    ))
    .await;
    assert_eq!(status, 201);
    let got = app.next().await;
    assert_eq!(got.body_len, body.len() as u64, "the app gets every byte");
    let ex = capture.next().await;
    assert_eq!(ex.request.body.size, body.len() as u64);
    assert_eq!(ex.request.body.bytes.len(), LIMIT);
    assert_eq!(
        ex.request.body.bytes[..],
        body[..LIMIT],
        "the stored part is the body's start"
    );
    assert!(ex.request.body.truncated(), "the record says it was cut");
}

#[tokio::test]
async fn an_app_that_is_down_gives_502_and_a_failed_record() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut capture = Capture::start(&closed.to_string(), Duration::from_secs(5), LIMIT).await;
    let (status, _, body) = send(post(&capture.url("/hook"), "application/json", "{}")).await;
    assert_eq!(status, 502);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(&format!("127.0.0.1:{closed}")),
        "names the target: {text}"
    );
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    let ex = capture.next().await;
    assert!(ex.response.is_none());
    assert!(ex.failed());
    assert!(
        ex.error
            .as_deref()
            .unwrap()
            .contains("could not reach the app"),
        "{:?}",
        ex.error
    );
    assert_eq!(
        ex.request.body.bytes, b"{}",
        "the request is still recorded"
    );
}

#[tokio::test]
async fn a_slow_app_gives_504_and_a_failed_record() {
    let mut app = App::start().await;
    let mut capture =
        Capture::start(&app.port().to_string(), Duration::from_millis(300), LIMIT).await;
    let (status, _, body) = send(post(&capture.url("/slow"), "application/json", "{}")).await;
    assert_eq!(status, 504);
    assert!(String::from_utf8_lossy(&body).contains("did not answer within"));
    let _ = app.next().await;
    let ex = capture.next().await;
    assert!(ex.failed());
    assert!(
        ex.error
            .as_deref()
            .unwrap()
            .contains("did not answer within 300ms"),
        "{:?}",
        ex.error
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_are_all_forwarded_and_recorded() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    let sends = (0..50).map(|i| {
        let req = post(
            &capture.url(&format!("/n/{i}")),
            "application/json",
            format!("{{\"n\":{i}}}"),
        );
        tokio::spawn(send(req))
    });
    for result in futures_util::future::join_all(sends).await {
        assert_eq!(result.unwrap().0, 201);
    }
    let mut seen_by_app = std::collections::BTreeSet::new();
    for _ in 0..50 {
        seen_by_app.insert(app.next().await.uri);
    }
    let mut recorded = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let ex = capture.next().await;
        assert_eq!(
            ex.request.body.bytes,
            format!("{{\"n\":{}}}", &ex.request.uri[3..]).into_bytes()
        );
        recorded.insert(ex.request.uri.clone());
    }
    assert_eq!(seen_by_app.len(), 50);
    assert_eq!(recorded, seen_by_app);
    let listed = capture.store.list(&Default::default()).unwrap();
    assert_eq!(listed.len(), 50);
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
}

#[tokio::test]
async fn failed_listing_and_status_codes() {
    let mut app = App::start().await;
    let mut capture = Capture::start(&app.port().to_string(), Duration::from_secs(10), LIMIT).await;
    for code in [200u16, 404, 500, 204] {
        let (status, _, _) = send(post(
            &capture.url(&format!("/status/{code}")),
            "text/plain",
            "x",
        ))
        .await;
        assert_eq!(status, code);
        let _ = app.next().await;
        let _ = capture.next().await;
    }
    let failed = capture
        .store
        .list(&hooktap::store::Filter {
            failed: true,
            ..Default::default()
        })
        .unwrap();
    let statuses: Vec<_> = failed.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [Some(500), Some(404)]);
    within(capture.store.clear()).await.unwrap();
    assert!(capture.store.list(&Default::default()).unwrap().is_empty());
}
