//! Faults: the app behind the agent closes the connection without answering, closes it
//! mid-response, hangs, or refuses connections. Each sender gets a clear status through
//! the tunnel (502, a cut body, 504 after the agent's --timeout, 502) and each request
//! leaves a failed record; both SQLite files stay sound.

use crate::common::procs;
use crate::common::tunnel as common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use procs::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("the test finishes in time");
}

/// An app that misbehaves by path: `/close` closes without answering, `/half` sends a
/// head announcing 1000 bytes and 7 of them then closes, `/hang` never answers.
async fn bad_app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head).into_owned();
                if line.starts_with("POST /half") {
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial")
                        .await;
                    let _ = stream.flush().await;
                } else if line.starts_with("POST /hang") {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                // `/close`, and the others once done: the connection closes here.
            });
        }
    });
    addr
}

/// A port with nothing listening on it.
async fn refusing_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Sends to `url` through the tunnel; the status, and the body or why it broke off; `Err`
/// when the connection closed before a response head.
async fn send(client: &HttpClient, url: String) -> Result<(u16, Result<Bytes, String>), String> {
    let request = http::Request::post(url)
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await;
    Ok((
        status,
        body.map(|b| b.to_bytes()).map_err(|e| e.to_string()),
    ))
}

#[tokio::test]
async fn an_app_that_closes_or_hangs_gives_the_sender_a_clear_status_and_a_failed_record() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("agent.db");
        let relay = RelayProc::start(&dir.path().join("relay"), "127.0.0.1:0", &[]).await;
        let app = bad_app().await;
        let mut agent = AgentProc::start(
            &format!("http://{app}"),
            &relay.ws(),
            "bad",
            &store,
            &["--timeout", "1s"],
        )
        .await;
        let client = client();
        let public_url = agent.public_url.clone();
        let url = |path: &str| format!("{public_url}{path}");

        let (status, body) = send(&client, url("/close")).await.expect("a response");
        assert_eq!(status, 502, "{body:?}");
        let event = agent.request().await;
        assert_eq!(event["path"], "/close");
        assert!(event["error"].is_string(), "a failed record: {event}");

        // The app's head went out, its body broke off: the sender's connection is cut
        // (before or after the head reached it), never a whole answer.
        match send(&client, url("/half")).await {
            Err(_) => {}
            Ok((status, body)) => {
                assert_eq!(status, 200);
                assert!(
                    body.as_ref().map_or(true, |b| b.len() < 1000),
                    "the cut body reached the sender as if whole: {body:?}"
                );
            }
        }
        let event = agent.request().await;
        assert_eq!(event["path"], "/half");
        assert!(event["error"].is_string(), "a failed record: {event}");

        let (status, body) = send(&client, url("/hang")).await.expect("a response");
        assert_eq!(status, 504, "{body:?}");
        let text = String::from_utf8_lossy(body.as_ref().unwrap()).into_owned();
        assert!(text.contains("did not answer within 1s"), "{text}");
        let event = agent.request().await;
        assert_eq!(event["path"], "/hang");
        assert!(event["error"].is_string(), "a failed record: {event}");

        agent.kill().await;
        let failed: Vec<_> = records(&store)
            .into_iter()
            .filter(|r| r.error.is_some())
            .map(|r| r.uri)
            .collect();
        assert_eq!(failed, ["/close", "/half", "/hang"]);
        assert_sound(&store, &relay.db());
    })
    .await;
}

#[tokio::test]
async fn an_app_that_refuses_connections_gives_502_and_a_failed_record() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("agent.db");
        let relay = RelayProc::start(&dir.path().join("relay"), "127.0.0.1:0", &[]).await;
        let port = refusing_port().await;
        let mut agent =
            AgentProc::start(&format!("http://{port}"), &relay.ws(), "down", &store, &[]).await;
        let client = client();
        let (status, body) = send(&client, format!("{}/hook", agent.public_url))
            .await
            .expect("a response");
        assert_eq!(status, 502);
        let text = String::from_utf8_lossy(body.as_ref().unwrap()).into_owned();
        assert!(text.contains("the tunnel's app did not answer"), "{text}");
        let event = agent.request().await;
        assert_eq!(event["path"], "/hook");
        let error = event["error"].as_str().expect("a failed record");
        assert!(error.contains("could not reach the app"), "{error}");
        agent.kill().await;
        let stored = records(&store);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].status, None);
        assert_sound(&store, &relay.db());
    })
    .await;
}
