//! End to end through the tunnel: a real relay, agent and app on 127.0.0.1:0.

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use hooktap::exchange::Source;
use hooktap::relay::{Auth, RelayConfig};
use hooktap::tunnel::protocol::{PROTOCOL_VERSION, RefusalReason, RelayAnswer, RelayRefusal};
use tokio_tungstenite::tungstenite::Message;

fn token_relay() -> RelayConfig {
    RelayConfig::new(Auth::new(&["t1".into(), "t2".into()], None, false).unwrap())
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

#[tokio::test]
async fn a_post_reaches_the_app_byte_identical_and_is_recorded() {
    bounded(async {
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let store = memory_store();
        let mut records = store.subscribe();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("demo")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let welcome = &agent.tunnel.welcome;
        assert_eq!(welcome.name, "demo");
        let public = format!("http://{}/t/demo", relay.addr);
        assert_eq!(welcome.public_urls, vec![public.clone()]);

        let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let client = client();
        let (status, headers, echoed) =
            post(&client, &format!("{public}/hook?x=1"), body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-app"], "echo");
        assert_eq!(
            echoed.as_ref(),
            body.as_slice(),
            "the app's answer comes back whole"
        );

        let seen = app.seen.recv().await.unwrap();
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.uri, "/hook?x=1");
        assert_eq!(seen.body, body, "the app gets the bytes exactly");
        assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(seen.headers["x-forwarded-proto"], "http");
        assert_eq!(seen.headers["x-forwarded-host"], relay.addr.to_string());
        assert!(
            !seen
                .headers
                .keys()
                .any(|k| k.as_str().starts_with("x-hooktap")),
            "internal headers stay inside the tunnel: {:?}",
            seen.headers
        );

        let record = records.recv().await.unwrap();
        assert_eq!(record.source, Source::Relay);
        assert_eq!(
            record.public_url.as_deref(),
            Some(format!("{public}/hook?x=1").as_str())
        );
        assert_eq!(record.request.uri, "/hook?x=1");
        assert_eq!(record.request.version, "HTTP/1.1");
        assert_eq!(record.request.body.bytes, body);
        assert_eq!(record.status(), Some(200));
        assert!(
            record
                .request
                .headers
                .iter()
                .all(|(k, _)| !k.starts_with("x-hooktap"))
        );
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

fn refusal_of(result: Result<AgentHandle, hooktap::tunnel::ConnectError>) -> RelayRefusal {
    match result {
        Err(hooktap::tunnel::ConnectError::Refused(refusal)) => refusal,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the tunnel opened"),
    }
}

#[tokio::test]
async fn wrong_token_taken_name_and_version_mismatch_are_refused() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let store = memory_store();

        let wrong = start_agent(
            agent_config(&relay.url(), Some("nope"), Some("x")),
            forwarder(app.addr, &store),
        )
        .await;
        let refusal = refusal_of(wrong);
        assert_eq!(refusal.reason, RefusalReason::BadToken);
        assert_eq!(
            refusal.message,
            "the relay does not accept this token: check --token or HOOKTAP_TOKEN"
        );
        let missing =
            start_agent(agent_config(&relay.url(), None, None), forwarder(app.addr, &store)).await;
        assert_eq!(refusal_of(missing).reason, RefusalReason::BadToken);

        let holder = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("shared")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let thief = start_agent(
            agent_config(&relay.url(), Some("t2"), Some("shared")),
            forwarder(app.addr, &store),
        )
        .await;
        let refusal = refusal_of(thief);
        assert_eq!(refusal.reason, RefusalReason::NameTaken);
        assert_eq!(
            refusal.message,
            "the name 'shared' is held by another token: pick another --name"
        );
        // The same token reconnecting replaces its session and keeps the name.
        let again = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("shared")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(again.tunnel.welcome.name, "shared");
        let client = client();
        let (status, _, body) = post(&client, &relay.http("/t/shared/a"), "still here").await;
        assert_eq!((status.as_u16(), body.as_ref()), (200, b"still here".as_ref()));

        // A future agent speaking another protocol version.
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/_hooktap/tunnel", relay.url()))
            .await
            .unwrap();
        let hello = serde_json::json!({"version": 999, "name": null, "agent": "hooktap/9"});
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let answer = ws.next().await.unwrap().unwrap();
        let answer: RelayAnswer = serde_json::from_str(answer.to_text().unwrap()).unwrap();
        let RelayAnswer::Refusal(refusal) = answer else {
            panic!("expected a refusal, got {answer:?}")
        };
        assert_eq!(refusal.reason, RefusalReason::VersionMismatch);
        assert_eq!(
            refusal.message,
            "this hooktap is newer than the relay (tunnel protocol 999, the relay speaks 2): upgrade the relay, or run the relay's hooktap version here"
        );
        holder.stop().await;
        again.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn anonymous_agents_get_random_names_and_keep_them() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay(
            "127.0.0.1:0",
            RelayConfig::new(Auth::new(&[], None, true).unwrap()),
        )
        .await;
        let store = memory_store();
        let chosen = start_agent(
            agent_config(&relay.url(), None, Some("mine")),
            forwarder(app.addr, &store),
        )
        .await;
        assert_eq!(refusal_of(chosen).reason, RefusalReason::NameNotAllowed);
        let agent = start_agent(
            agent_config(&relay.url(), None, None),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let name = agent.tunnel.welcome.name.clone();
        assert_eq!(name.len(), 10);
        let key = agent
            .tunnel
            .welcome
            .resume_key
            .clone()
            .expect("a resume key");
        // Someone else asking for that name without the key is refused.
        let other = start_agent(
            agent_config(&relay.url(), None, Some(&name)),
            forwarder(app.addr, &store),
        )
        .await;
        assert_eq!(refusal_of(other).reason, RefusalReason::NameNotAllowed);
        // With the key, the name comes back (a raw hello, as the agent sends on reconnect).
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{}/_hooktap/tunnel", relay.url()))
                .await
                .unwrap();
        let hello =
            serde_json::json!({"version": PROTOCOL_VERSION, "name": name, "resume_key": key});
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let answer: RelayAnswer =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        assert!(matches!(answer, RelayAnswer::Welcome(w) if w.name == name));
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_hundred_concurrent_requests_share_one_tunnel() {
    bounded(async {
        let app = start_app().await;
        // All of them come from one address, beyond the default per-peer share.
        let mut config = token_relay();
        config.limits.max_in_flight_per_peer = 256;
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("many")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let client = client();
        let requests = (0..100).map(|i| {
            let client = client.clone();
            let url = relay.http(&format!("/t/many/r/{i}"));
            async move {
                let body = format!("request {i} ").repeat(100 + i);
                let (status, _, echoed) = post(&client, &url, body.clone()).await;
                assert_eq!(status, 200);
                assert_eq!(
                    echoed.as_ref(),
                    body.as_bytes(),
                    "request {i} got its own answer"
                );
            }
        });
        futures_util::future::join_all(requests).await;
        store.flush().await.unwrap();
        let recorded = store
            .list(&hooktap::store::Filter {
                limit: Some(1000),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(recorded.len(), 100);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_100_mib_body_streams_both_ways() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("big")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        const CHUNK: usize = 256 * 1024;
        const CHUNKS: usize = 400; // 100 MiB
        let chunk = bytes::Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let frames = futures_util::stream::iter((0..CHUNKS).map(move |_| {
            Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(chunk.clone()))
        }));
        let body = http_body_util::StreamBody::new(frames);
        let request = http::Request::post(relay.http("/t/big/upload"))
            .header("content-length", (CHUNK * CHUNKS).to_string())
            .body(body)
            .unwrap();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        // Read the echo as it streams, checking every byte without keeping them.
        let mut body = response.into_body();
        let mut offset = 0usize;
        while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
            let frame = frame.unwrap();
            if let Some(data) = frame.data_ref() {
                for (i, byte) in data.iter().enumerate() {
                    assert_eq!(*byte, (((offset + i) % CHUNK) % 251) as u8);
                }
                offset += data.len();
            }
        }
        assert_eq!(offset, CHUNK * CHUNKS);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn subdomains_route_by_host_with_the_path_unchanged() {
    bounded(async {
        let mut app = start_app().await;
        let mut config = token_relay();
        config.domain = Some("hooks.test".into());
        config.public_url = Some("https://hooks.test".into());
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        let mut records = store.subscribe();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("sub")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(
            agent.tunnel.welcome.public_urls,
            vec![
                "https://sub.hooks.test".to_string(),
                "https://hooks.test/t/sub".to_string()
            ]
        );
        let request = http::Request::post(relay.http("/t/other/path?q=1"))
            .header("host", "sub.hooks.test")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"by host",
            )))
            .unwrap();
        let response = client().request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let seen = app.seen.recv().await.unwrap();
        assert_eq!(seen.uri, "/t/other/path?q=1", "the path is not rewritten");
        assert_eq!(seen.headers["x-forwarded-host"], "sub.hooks.test");
        assert_eq!(seen.headers["x-forwarded-proto"], "https");
        let record = records.recv().await.unwrap();
        assert_eq!(
            record.public_url.as_deref(),
            Some("https://sub.hooks.test/t/other/path?q=1")
        );
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_sender_that_goes_away_cancels_only_its_own_stream() {
    bounded(async {
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let store = memory_store();
        let mut records = store.subscribe();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("gone")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        // An upload that sends a part (what the relay reads before it opens the request to
        // the agent) and then stalls.
        let (tx, rx) = tokio::sync::mpsc::channel::<
            Result<hyper::body::Frame<bytes::Bytes>, std::convert::Infallible>,
        >(1);
        let part = vec![b'p'; hooktap::relay::deadline::PREBUFFER];
        tx.send(Ok(hyper::body::Frame::data(bytes::Bytes::from(part))))
            .await
            .unwrap();
        let body = http_body_util::StreamBody::new(tokio_stream_from(rx));
        let request = http::Request::post(relay.http("/t/gone/upload"))
            .header("content-length", "1000000")
            .body(body)
            .unwrap();
        let sender_client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let upload = tokio::spawn(async move { sender_client.request(request).await });
        assert_eq!(app.arrived.recv().await.unwrap(), "/upload");

        // The sender disappears mid-body.
        upload.abort();
        drop(tx);
        let record = records.recv().await.unwrap();
        assert_eq!(record.request.uri, "/upload");
        assert!(
            record.error.is_some(),
            "the cut-off exchange is recorded as failed"
        );

        // The tunnel and other requests are unaffected.
        let client = client();
        let (status, _, body) = post(&client, &relay.http("/t/gone/after"), "fine").await;
        assert_eq!((status.as_u16(), body.as_ref()), (200, b"fine".as_ref()));
        assert_eq!(tunnels_online(&client, &relay).await, 1);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

/// A stream over an mpsc receiver.
fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Unpin {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
