//! The relay's limits, liveness, health and metrics, with a real relay, agent and app.

use crate::common::tunnel as common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use hooktap::relay::{Auth, Limits, RelayConfig};
use hooktap::tunnel::TunnelEvent;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncReadExt;

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

fn limited_relay() -> RelayConfig {
    let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
    config.limits = Limits {
        max_body: 1000,
        max_header: 2000,
        max_in_flight: 1,
        upstream_timeout: Duration::from_secs(1),
        handshake_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    config
}

#[tokio::test]
async fn each_limit_answers_with_its_status() {
    bounded(async {
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", limited_relay()).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("lim")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let client = client();
        let url = relay.http("/t/lim/hook");

        let (status, _, _) = post(&client, &url, vec![b'a'; 1000]).await;
        assert_eq!(status, 200, "a body at the limit passes");
        let (status, _, body) = post(&client, &url, vec![b'a'; 1001]).await;
        assert_eq!(status, 413);
        assert_eq!(
            body.as_ref(),
            b"hooktap: the request body is larger than the relay's limit of 1000 bytes\n"
        );

        // Without a Content-Length the limit is enforced as the body streams.
        let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = (0..3)
            .map(|_| Ok(Frame::data(Bytes::from(vec![b'b'; 600]))))
            .collect();
        let streamed = BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks)));
        let request = http::Request::post(relay.http("/t/lim/slow"))
            .body(streamed)
            .unwrap();
        let streaming_client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let response = streaming_client.request(request).await.unwrap();
        assert_eq!(response.status(), 413);

        let request = http::Request::post(&url)
            .header("x-big", "h".repeat(2100))
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(client.request(request).await.unwrap().status(), 431);

        // The app takes 2 s; the relay waits 1 s: a 504, not the app's late 200.
        let (status, _, _) = post(&client, &relay.http("/t/lim/slow"), "x").await;
        assert_eq!(status, 504);

        // One request in flight per tunnel: a second one meanwhile gets 429.
        let slow_client = client.clone();
        let slow_url = relay.http("/t/lim/slow");
        while app.arrived.try_recv().is_ok() {}
        let slow = tokio::spawn(async move { post(&slow_client, &slow_url, "x").await.0 });
        assert_eq!(app.arrived.recv().await.unwrap(), "/slow");
        let (status, headers, _) = post(&client, &url, "y").await;
        assert_eq!(status, 429);
        assert!(headers.contains_key("retry-after"));
        assert_eq!(slow.await.unwrap(), 504);

        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn idle_senders_and_silent_agents_are_disconnected() {
    bounded(async {
        let relay = start_relay("127.0.0.1:0", limited_relay()).await;
        let started = Instant::now();
        let mut idle = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
            .await
            .expect("the relay closes an idle connection")
            .unwrap_or(0);
        assert_eq!(n, 0);
        assert!(started.elapsed() >= Duration::from_millis(250));

        // A WebSocket that never says hello is dropped after the handshake time.
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{}/_hooktap/tunnel", relay.url()))
                .await
                .unwrap();
        let end = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the relay gives up on a silent agent");
        assert!(!matches!(
            end,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))
        ));
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_frozen_tunnel_is_noticed_within_seconds_and_the_agent_comes_back() {
    bounded(async {
        let app = start_app().await;
        let mut config = limited_relay();
        config.heartbeat = Duration::from_millis(300);
        let relay = start_relay("127.0.0.1:0", config).await;
        let proxy = start_proxy(relay.addr).await;
        let store = memory_store();
        let mut agent = start_agent(
            agent_config(&format!("ws://{}", proxy.addr), Some("t1"), Some("live")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let client = client();
        assert_eq!(tunnels_online(&client, &relay).await, 1);

        // The network path stops carrying anything, without closing.
        proxy.freeze.cancel();
        let event = tokio::time::timeout(Duration::from_secs(10), agent.tunnel.events.recv())
            .await
            .expect("the agent notices")
            .unwrap();
        assert!(matches!(event, TunnelEvent::Offline { .. }), "{event:?}");
        eventually("the relay drops the dead tunnel", || {
            let client = client.clone();
            let relay_addr = relay.addr;
            async move {
                let handle = RelayHandleRef(relay_addr);
                handle.online(&client).await == 0
            }
        })
        .await;

        // New connections pass again: the agent reconnects with its name.
        let online = loop {
            let event = tokio::time::timeout(Duration::from_secs(5), agent.tunnel.events.recv())
                .await
                .expect("the agent reconnects")
                .unwrap();
            if !matches!(event, TunnelEvent::Reconnecting { .. }) {
                break event;
            }
        };
        match online {
            TunnelEvent::Online { name, .. } => assert_eq!(name, "live"),
            other => panic!("expected online, got {other:?}"),
        }
        let (status, _, _) = post(&client, &relay.http("/t/live/x"), "x").await;
        assert_eq!(status, 200);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

struct RelayHandleRef(std::net::SocketAddr);

impl RelayHandleRef {
    async fn online(&self, client: &HttpClient) -> u64 {
        let response = client
            .get(
                format!("http://{}/_hooktap/health", self.0)
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["tunnels_online"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn health_and_metrics_report_the_relay() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay("127.0.0.1:0", limited_relay()).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("m")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let client = client();
        let (status, _, _) = post(&client, &relay.http("/t/m/a"), vec![b'z'; 100]).await;
        assert_eq!(status, 200);
        let (status, _, _) = post(&client, &relay.http("/t/nobody/a"), "x").await;
        assert_eq!(status, 404);

        let response = client
            .get(relay.http("/_hooktap/health").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(health["status"], "ok");
        assert_eq!(health["tunnels_online"], 1);

        let response = client
            .get(relay.http("/_hooktap/metrics").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("hooktap_tunnels_online 1\n"), "{text}");
        assert!(
            text.contains("hooktap_requests_total{class=\"2xx\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hooktap_requests_total{class=\"4xx\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("hooktap_request_bytes_total 100\n"), "{text}");
        assert!(
            text.contains("hooktap_response_bytes_total 100\n"),
            "{text}"
        );
        assert!(text.contains("hooktap_queue_depth 0\n"), "{text}");
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn metrics_can_be_kept_private_with_a_token_and_health_stays_public() {
    bounded(async {
        let mut config = limited_relay();
        config.metrics_token = Some(hooktap::relay::auth::fingerprint("metrics-secret"));
        let relay = start_relay("127.0.0.1:0", config).await;
        let client = client();
        let get = |path: &str, token: Option<&str>| {
            let mut request = http::Request::get(relay.http(path));
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let request = request.body(http_body_util::Full::new(Bytes::new())).unwrap();
            let client = client.clone();
            async move {
                let response = client.request(request).await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (status, headers, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        for token in [None, Some("wrong"), Some("metrics-secre")] {
            let (status, headers, body) = get("/_hooktap/metrics", token).await;
            assert_eq!(status, 401, "{token:?}");
            assert_eq!(headers["www-authenticate"], "Bearer realm=\"hooktap metrics\"");
            assert_eq!(
                body,
                "hooktap: the relay's metrics need `Authorization: Bearer <the relay's --metrics-token>`\n"
            );
        }
        let (status, _, body) = get("/_hooktap/metrics", Some("metrics-secret")).await;
        assert_eq!(status, 200);
        assert!(body.contains("hooktap_tunnels_online 0\n"), "{body}");
        let (status, _, body) = get("/_hooktap/health", None).await;
        assert_eq!(status, 200);
        assert!(body.contains("\"status\":\"ok\""), "{body}");
        relay.stop().await;
    })
    .await;
}
