//! A relay behind a front proxy (`--trusted-proxy`): the per-address limits count each
//! sender the proxy names in `X-Forwarded-For`, not the proxy; a sender cannot name
//! itself past the proxy's own entry; without the flag, everyone behind the proxy shares
//! one address's limits.

use crate::common::gated;
use crate::common::tunnel as common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use hooktap::relay::{Auth, Limits, RelayConfig};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

/// A relay that allows one request in flight and one handshake a minute per sender, with
/// loopback (where the test's "proxy" connects from) trusted or not.
fn relay_config(trusted: bool) -> RelayConfig {
    let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
    config.limits = Limits {
        max_in_flight_per_peer: 1,
        max_handshakes_per_minute: 2,
        ..Limits::default()
    };
    if trusted {
        config.trusted_proxies = vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
    }
    config
}

/// Posts to `url` as forwarded by a proxy for `xff`; the status.
async fn post_for(client: &HttpClient, url: &str, xff: &str) -> u16 {
    let request = http::Request::post(url)
        .header("x-forwarded-for", xff)
        .body(Full::new(Bytes::from_static(b"x")))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

/// A tunnel handshake as forwarded for `xff`, with a wrong token; the status line's code.
async fn upgrade_for(relay: &RelayHandle, xff: &str) -> u16 {
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    let request = format!(
        "GET /_hooktap/tunnel HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer wrong\r\nX-Forwarded-For: {xff}\r\n\r\n",
        relay.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

/// Holds one request for `xff` in flight at the gated app; returns its sender's task.
async fn hold(
    client: &HttpClient,
    url: String,
    xff: &'static str,
    arrived: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) -> tokio::task::JoinHandle<u16> {
    let client = client.clone();
    let task = tokio::spawn(async move { post_for(&client, &url, xff).await });
    tokio::time::timeout(Duration::from_secs(10), arrived.recv())
        .await
        .expect("the held request reaches the app")
        .unwrap();
    task
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_sender_has_its_own_share() {
    bounded(async {
        let (app, gate, mut arrived) = gated::gated_app().await;
        let relay = start_relay("127.0.0.1:0", relay_config(true)).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("px")),
            forwarder(app, &store),
        )
        .await
        .unwrap();
        let client = client();
        let url = relay.http("/t/px/hook");

        // 203.0.113.1 holds its one slot; 203.0.113.2, behind the same proxy, is not held up.
        let first = hold(&client, url.clone(), "203.0.113.1", &mut arrived).await;
        let second = hold(&client, url.clone(), "203.0.113.2", &mut arrived).await;
        assert_eq!(post_for(&client, &url, "203.0.113.1").await, 429);
        // A sender naming another address itself is still the address the proxy saw
        // (the right-most untrusted entry), also through a second, inner proxy.
        assert_eq!(
            post_for(&client, &url, "198.51.100.9, 203.0.113.1").await,
            429
        );
        assert_eq!(
            post_for(&client, &url, "198.51.100.9, 203.0.113.2, 10.1.2.3").await,
            429
        );
        // An unreadable header counts as the proxy itself, which holds nothing yet.
        let third = hold(&client, url.clone(), "not-an-address", &mut arrived).await;
        assert_eq!(post_for(&client, &url, "also, junk").await, 429);
        gate.send_replace(true);
        for held in [first, second, third] {
            assert_eq!(held.await.unwrap(), 200);
        }

        // Handshakes per minute are counted per forwarded sender too.
        for _ in 0..2 {
            assert_eq!(upgrade_for(&relay, "203.0.113.5").await, 101);
        }
        assert_eq!(upgrade_for(&relay, "203.0.113.5").await, 429);
        assert_eq!(upgrade_for(&relay, "203.0.113.6").await, 101);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn without_trusting_the_proxy_its_senders_share_one_address() {
    bounded(async {
        let (app, gate, mut arrived) = gated::gated_app().await;
        let relay = start_relay("127.0.0.1:0", relay_config(false)).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("px")),
            forwarder(app, &store),
        )
        .await
        .unwrap();
        let client = client();
        let url = relay.http("/t/px/hook");
        let first = hold(&client, url.clone(), "203.0.113.1", &mut arrived).await;
        // The header is not believed: a sender could write anything in it.
        assert_eq!(post_for(&client, &url, "203.0.113.2").await, 429);
        gate.send_replace(true);
        assert_eq!(first.await.unwrap(), 200);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}
