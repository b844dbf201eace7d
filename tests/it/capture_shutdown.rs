//! Shutting the capture listener down: requests already in flight finish and are recorded,
//! whichever of the capture threads serves their connection.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::gated::gated_app;
use common::{Capture, within};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Sends `body` on a connection of its own, returning the status and body.
async fn post_on_own_connection(addr: std::net::SocketAddr, body: &'static str) -> (u16, Bytes) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post("/hook")
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let response = send.send_request(req).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn in_flight_requests_on_every_capture_thread_finish_and_are_recorded() {
    let (app, gate, mut arrived) = gated_app().await;
    let capture = Capture::start(&app.port().to_string(), Duration::from_secs(30), 1024).await;
    let (addr, store) = (capture.addr, capture.store.clone());

    // Connections take turns between the capture threads: four cover both.
    let bodies = ["one", "two", "three", "four"];
    let senders: Vec<_> = bodies
        .iter()
        .map(|body| tokio::spawn(post_on_own_connection(addr, body)))
        .collect();
    for _ in &bodies {
        within(arrived.recv())
            .await
            .expect("the app got every request");
    }

    capture.shutdown.cancel();
    gate.send(true).unwrap();
    for (sender, body) in senders.into_iter().zip(bodies) {
        let (status, answer) = within(sender).await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(answer, body.as_bytes());
    }
    within(capture.running).await.unwrap();

    within(store.flush()).await.unwrap();
    let mut recorded: Vec<String> = store
        .list(&Default::default())
        .unwrap()
        .iter()
        .map(|s| {
            let ex = store.get(&s.id).unwrap();
            String::from_utf8(ex.request.body.bytes).unwrap()
        })
        .collect();
    recorded.sort();
    let mut expected: Vec<String> = bodies.iter().map(|b| b.to_string()).collect();
    expected.sort();
    assert_eq!(recorded, expected);
}
