//! Hostile senders against a real relay with a live agent behind it: each case is raw bytes
//! on a TCP socket, the status the relay must answer (or that it closes the connection),
//! promptly, and none of them reaches the agent's app or store.

use crate::common::tunnel as common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use hooktap::relay::{Auth, Limits, RelayConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(90), test)
        .await
        .expect("the test finishes in time");
}

/// Short deadlines, so slow senders are cut off within a second.
fn hostile_relay() -> RelayConfig {
    let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
    config.domain = Some("hooks.test".into());
    config.limits = Limits {
        max_body: 1000,
        max_header: 2000,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        body_min_rate: 1 << 20,
        max_in_flight_per_peer: 2,
        ..Limits::default()
    };
    config
}

/// What the relay does with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Status(u16),
    /// The connection closes without an answer.
    Closed,
}

/// Connects from `from` (any 127.x address) to `to`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads the status line of the answer, or `Closed` when the connection ends first.
async fn answer_of(stream: &mut TcpStream, within: Duration) -> Answer {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.windows(2).any(|w| w == b"\r\n") {
                return;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the relay answers within {within:?}");
    let text = String::from_utf8_lossy(&buf);
    match text.split(' ').nth(1).and_then(|s| s.parse().ok()) {
        Some(status) => Answer::Status(status),
        None => Answer::Closed,
    }
}

/// Sends `bytes` at once and reads the answer.
async fn send(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The relay may answer and close before it read everything.
    let _ = stream.write_all(bytes).await;
    answer_of(&mut stream, Duration::from_secs(5)).await
}

/// Sends `head`, then one byte of `drip` every 100 ms, and reads the answer.
async fn trickle(addr: SocketAddr, from: &str, head: &[u8], drip: u8) -> (Answer, Duration) {
    let mut stream = connect_from(from, addr).await;
    stream.write_all(head).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let dripping = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(&[drip]).await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 1024];
        while let Ok(n) = reader.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(2).any(|w| w == b"\r\n") {
                break;
            }
        }
    })
    .await;
    dripping.abort();
    let text = String::from_utf8_lossy(&buf);
    let answer = match text.split(' ').nth(1).and_then(|s| s.parse().ok()) {
        Some(status) => Answer::Status(status),
        None => Answer::Closed,
    };
    (answer, started.elapsed())
}

fn post(path: &str, host: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn hostile_requests_get_their_status_and_reach_no_agent() {
    bounded(async {
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", hostile_relay()).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("app")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let host = relay.addr.to_string();
        let big_header = format!("X-Big: {}\r\n", "h".repeat(3000));
        let huge_header = format!("X-Huge: {}\r\n", "h".repeat(100_000));
        let chunked = |body: &str| {
            format!(
                "POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
            )
            .into_bytes()
        };
        let cases: Vec<(&str, Vec<u8>, Answer)> = vec![
            (
                "two Host headers",
                format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nHost: evil.test\r\nContent-Length: 0\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            (
                "no Host header",
                b"POST /t/app/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n".to_vec(),
                Answer::Status(400),
            ),
            (
                "absolute URI naming another host",
                format!("POST http://evil.test/t/app/x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            ("port out of range", post("/t/app/x", "127.0.0.1:99999", "", ""), Answer::Status(400)),
            ("port not a number", post("/t/app/x", "127.0.0.1:80x", "", ""), Answer::Status(400)),
            ("empty port", post("/t/app/x", "127.0.0.1:", "", ""), Answer::Status(400)),
            ("user info in Host", post("/t/app/x", "app@127.0.0.1", "", ""), Answer::Status(400)),
            (
                "identity before chunked",
                format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            (
                "chunked twice",
                format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            (
                "an unknown transfer coding",
                format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").into_bytes(),
                Answer::Status(501),
            ),
            (
                "chunked without being last (hyper)",
                format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            ("a chunk size that is not hex", chunked("zz\r\nabc\r\n0\r\n\r\n"), Answer::Status(400)),
            ("a chunk shorter than its size", chunked("5\r\nab\r\n0\r\n\r\n"), Answer::Status(400)),
            ("an overflowing chunk size", chunked("ffffffffffffffffff\r\na\r\n0\r\n\r\n"), Answer::Status(400)),
            (
                "two different Content-Lengths (hyper)",
                format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").into_bytes(),
                Answer::Status(400),
            ),
            ("headers over --max-header", post("/t/app/x", &host, &big_header, ""), Answer::Status(431)),
            ("headers over hyper's buffer", post("/t/app/x", &host, &huge_header, ""), Answer::Status(431)),
            ("a declared body over --max-body", post("/t/app/x", &host, "", &"b".repeat(1001)), Answer::Status(413)),
            (
                "a chunked body over --max-body",
                chunked(&format!("{:x}\r\n{}\r\n0\r\n\r\n", 1001, "b".repeat(1001))),
                Answer::Status(413),
            ),
            ("dot segments as the name", post("/t/../x", &host, "", ""), Answer::Status(404)),
            ("an encoded slash in the name", post("/t/app%2f../x", &host, "", ""), Answer::Status(404)),
            ("an upper-case name", post("/t/APP/x", &host, "", ""), Answer::Status(404)),
            ("the name under another domain", post("/x", "app.hooks.test.evil", "", ""), Answer::Status(404)),
            ("a name that is not a label", post("/x", "a_b.hooks.test", "", ""), Answer::Status(404)),
            (
                "a WebSocket version other than 13",
                format!("GET /_hooktap/tunnel HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").into_bytes(),
                Answer::Status(426),
            ),
            (
                "an empty WebSocket key",
                format!("GET /_hooktap/tunnel HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            (
                "a WebSocket key that is not 16 bytes",
                format!("GET /_hooktap/tunnel HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            (
                "a WebSocket upgrade over HTTP/1.0",
                format!("GET /_hooktap/tunnel HTTP/1.0\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
            (
                "a WebSocket upgrade by POST",
                format!("POST /_hooktap/tunnel HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n").into_bytes(),
                Answer::Status(400),
            ),
        ];
        for (what, bytes, expected) in &cases {
            let answer = send(relay.addr, bytes).await;
            assert_eq!(answer, *expected, "{what}");
            assert!(app.arrived.try_recv().is_err(), "{what}: reached the app");
        }

        // Slowloris: a head that trickles is cut off after --header-timeout; a body that
        // trickles gets 408 after --body-timeout; neither reaches the agent.
        let head = format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
        let (answer, took) = trickle(relay.addr, "127.0.0.1", head.as_bytes(), b'a').await;
        assert_eq!(answer, Answer::Closed, "a trickling head");
        assert!(took < Duration::from_secs(2), "a trickling head is cut off promptly");
        let head = format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 500\r\n\r\nstart");
        let (answer, took) = trickle(relay.addr, "127.0.0.1", head.as_bytes(), b'b').await;
        assert_eq!(answer, Answer::Status(408), "a trickling body");
        assert!(took < Duration::from_secs(2), "a trickling body is cut off promptly");
        let head = format!("POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n");
        let (answer, _) = trickle(relay.addr, "127.0.0.1", head.as_bytes(), b'c').await;
        assert_eq!(answer, Answer::Status(408), "a trickling chunked body");

        // Content-Length with Transfer-Encoding (either order, on a fresh connection or
        // behind a request on a kept-alive one) is refused, and what a proxy that trusted
        // Content-Length would take for a second request is never read.
        let smuggle = |first: &str, second: &str| {
            format!(
                "POST /t/app/first HTTP/1.1\r\nHost: {host}\r\n{first}\r\n{second}\r\n\r\n0\r\n\r\nGET /t/app/smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n"
            )
        };
        let kept_alive = format!(
            "POST /t/app/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n{}",
            smuggle("Transfer-Encoding: chunked", "Content-Length: 45")
        );
        for (what, bytes, answers) in [
            ("CL then TE", smuggle("Content-Length: 45", "Transfer-Encoding: chunked"), 1),
            ("TE then CL", smuggle("Transfer-Encoding: chunked", "Content-Length: 45"), 1),
            ("CL and TE behind a chunked request", kept_alive, 2),
        ] {
            let mut stream = TcpStream::connect(relay.addr).await.unwrap();
            stream.write_all(bytes.as_bytes()).await.unwrap();
            let mut all = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut all))
                .await
                .expect("the relay closes the connection")
                .unwrap();
            let text = String::from_utf8_lossy(&all);
            assert_eq!(text.matches("HTTP/1.1 ").count(), answers, "{what}: {text}");
            assert!(text.contains("HTTP/1.1 400 Bad Request"), "{what}: {text}");
            if answers == 2 {
                assert_eq!(app.arrived.recv().await.unwrap(), "/x");
            }
            assert!(app.arrived.try_recv().is_err(), "{what}: reached the app");
        }

        // A control request reaches the app, and nothing before it did but `/x`.
        let control = send(relay.addr, &post("/t/app/control", &host, "", "ok")).await;
        assert_eq!(control, Answer::Status(200));
        assert_eq!(app.arrived.recv().await.unwrap(), "/control");
        assert!(app.arrived.try_recv().is_err());
        store.flush().await.unwrap();
        let recorded = store
            .list(&hooktap::store::Filter {
                limit: Some(100),
                ..Default::default()
            })
            .unwrap();
        let uris: Vec<&str> = recorded.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(uris, ["/control", "/x"], "the agent recorded only these");
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn trickling_bodies_release_their_slots_and_one_peer_cannot_take_them_all() {
    bounded(async {
        let mut app = start_app().await;
        let mut config = hostile_relay();
        config.limits.max_in_flight = 3;
        config.limits.body_timeout = Duration::from_millis(800);
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("app")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let addr = relay.addr;
        let head =
            format!("POST /t/app/slow HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 500\r\n\r\nx");
        // Two trickling uploads from 127.0.0.1 take its whole share.
        let slow: Vec<_> = (0..2)
            .map(|_| {
                let head = head.clone();
                tokio::spawn(async move { trickle(addr, "127.0.0.1", head.as_bytes(), b'y').await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut third = connect_from("127.0.0.1", addr).await;
        third
            .write_all(&post("/t/app/third", &addr.to_string(), "", "z"))
            .await
            .unwrap();
        assert_eq!(
            answer_of(&mut third, Duration::from_secs(2)).await,
            Answer::Status(429)
        );
        // Another peer still gets through meanwhile.
        let mut other = connect_from("127.0.0.2", addr).await;
        other
            .write_all(&post("/t/app/other", &addr.to_string(), "", "z"))
            .await
            .unwrap();
        assert_eq!(
            answer_of(&mut other, Duration::from_secs(2)).await,
            Answer::Status(200)
        );
        assert_eq!(app.arrived.recv().await.unwrap(), "/other");
        // The trickling ones get 408 after the deadline and give their slots back.
        for upload in slow {
            let (answer, took) = upload.await.unwrap();
            assert_eq!(answer, Answer::Status(408));
            assert!(took < Duration::from_secs(3));
        }
        let mut again = connect_from("127.0.0.1", addr).await;
        again
            .write_all(&post("/t/app/again", &addr.to_string(), "", "z"))
            .await
            .unwrap();
        assert_eq!(
            answer_of(&mut again, Duration::from_secs(2)).await,
            Answer::Status(200)
        );
        assert_eq!(app.arrived.recv().await.unwrap(), "/again");
        assert!(
            app.arrived.try_recv().is_err(),
            "no trickling upload reached the app"
        );
        agent.stop().await;

        // The offline path has the same deadline: a trickle for the queue gets 408.
        let client = client();
        relay.until_online(0).await;
        let (answer, took) = trickle(addr, "127.0.0.1", head.as_bytes(), b'y').await;
        assert_eq!(
            answer,
            Answer::Status(408),
            "a trickling body for the queue"
        );
        assert!(took < Duration::from_secs(3));
        // Nothing was queued: a body that did not arrive is not acknowledged.
        let health = client
            .get(relay.http("/_hooktap/health").parse().unwrap())
            .await
            .unwrap();
        let body = http_body_util::BodyExt::collect(health.into_body())
            .await
            .unwrap()
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["queue_depth"], 0);
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_thousand_idle_sockets_are_closed_and_do_not_keep_others_out() {
    bounded(async {
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", hostile_relay()).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("app")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let mut idle = Vec::new();
        for _ in 0..1000 {
            idle.push(TcpStream::connect(relay.addr).await.unwrap());
        }
        let host = relay.addr.to_string();
        let answer = send(relay.addr, &post("/t/app/meanwhile", &host, "", "ok")).await;
        assert_eq!(answer, Answer::Status(200));
        assert_eq!(app.arrived.recv().await.unwrap(), "/meanwhile");
        // Each is closed after --header-timeout (500 ms), well before the read gives up.
        for mut socket in idle {
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut byte)).await;
            assert!(
                matches!(read, Ok(Ok(0)) | Ok(Err(_))),
                "an idle socket is closed"
            );
        }
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn upgrade_floods_are_limited_per_peer_and_unmasked_frames_close_the_tunnel() {
    bounded(async {
        let mut config = hostile_relay();
        config.limits.max_handshakes_per_minute = 5;
        let relay = start_relay("127.0.0.1:0", config).await;
        let addr = relay.addr;
        let upgrade = |token: &str| {
            format!(
                "GET /_hooktap/tunnel HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
        };
        // An unmasked hello: the relay closes the connection without opening a tunnel.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(upgrade("t1").as_bytes()).await.unwrap();
        assert_eq!(answer_of(&mut stream, Duration::from_secs(2)).await, Answer::Status(101));
        let hello = br#"{"version":2,"name":"app","agent":"x"}"#;
        let mut frame = vec![0x81, hello.len() as u8];
        frame.extend_from_slice(hello);
        stream.write_all(&frame).await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut rest))
            .await
            .expect("the relay closes on an unmasked frame")
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&rest).contains("welcome"),
            "no tunnel is opened"
        );
        // Four more handshakes with a bad token are answered; the sixth gets 429.
        for _ in 0..4 {
            assert_eq!(send(addr, upgrade("wrong").as_bytes()).await, Answer::Status(101));
        }
        assert_eq!(send(addr, upgrade("wrong").as_bytes()).await, Answer::Status(429));
        // Another peer still may connect.
        let mut other = connect_from("127.0.0.2", addr).await;
        other.write_all(upgrade("t1").as_bytes()).await.unwrap();
        assert_eq!(answer_of(&mut other, Duration::from_secs(2)).await, Answer::Status(101));
        relay.stop().await;
    })
    .await;
}
