//! An app that holds every request until told to answer: for tests of what happens to
//! requests in flight (shutdown).
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// An app that holds every request until `open` turns true, and reports each arrival.
pub async fn gated_app() -> (
    std::net::SocketAddr,
    watch::Sender<bool>,
    mpsc::UnboundedReceiver<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (gate, _) = watch::channel(false);
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    let gate_for_app = gate.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let (gate, arrived) = (gate_for_app.subscribe(), arrived_tx.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (mut gate, arrived) = (gate.clone(), arrived.clone());
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        let _ = arrived.send(());
                        let _ = gate.wait_for(|open| *open).await;
                        Ok::<_, hyper::Error>(Response::new(Full::new(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, gate, arrived)
}
