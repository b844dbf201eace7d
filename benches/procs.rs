//! The processes the tunnel benchmarks run: an app in this process, and the relay and the
//! agent (`hooktap listen --relay`, recording on) as children of the built binary, so
//! their memory and CPU can be read from /proc.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::load;

/// Kills the child process when dropped, also when the bench panics.
pub struct Guard(pub Child);

impl Guard {
    pub fn cpu_us(&self) -> u64 {
        load::cpu_time_us(self.0.id())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An app that reads the whole body and answers `ok`, on its own thread.
pub fn start_app() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
            tx.send(listener.local_addr().expect("an address"))
                .expect("the bench waits");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|req: Request<Incoming>| async move {
                        let mut body = req.into_body();
                        while let Some(frame) = body.frame().await {
                            if frame.is_err() {
                                break;
                            }
                        }
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().expect("the app starts")
}

/// The hooktap binary: `HOOKTAP_BENCH_BIN`, or the one cargo built for this bench.
pub fn binary() -> String {
    std::env::var("HOOKTAP_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hooktap").to_string())
}

pub fn start_relay(dir: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(binary())
        .args([
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "bench",
            // All the load comes from one address, loopback.
            "--max-in-flight-per-peer",
            "1024",
            "--data-dir",
        ])
        .arg(dir.join("relay"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("the relay starts");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the relay's first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected relay output: {line}"));
    (child, addr)
}

/// Starts the agent with `extra` arguments; gives it, its public URL, and a count of the
/// request events it has printed (each one a committed record).
pub fn start_agent(
    app: SocketAddr,
    relay: SocketAddr,
    dir: &std::path::Path,
    extra: &[&str],
) -> (Child, String, Arc<AtomicU64>) {
    let mut child = Command::new(binary())
        .arg("listen")
        .arg(format!("http://{app}"))
        .args([
            "--relay",
            &format!("ws://{relay}"),
            "--token",
            "bench",
            "--name",
            "bench",
        ])
        .args([
            "--json",
            "--capture-addr",
            "127.0.0.1:0",
            "--capture-limit",
            "64KiB",
        ])
        .args(extra)
        .arg("--store")
        // `HOOKTAP_BENCH_STORE=:memory:` separates the tunnel's cost from the disk's.
        .arg(std::env::var_os("HOOKTAP_BENCH_STORE").unwrap_or_else(|| dir.join("agent.db").into()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("the agent starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout);
    let mut ready = String::new();
    lines.read_line(&mut ready).expect("the ready event");
    let ready: serde_json::Value = serde_json::from_str(&ready).expect("a JSON ready event");
    let url = ready["public_url"]
        .as_str()
        .expect("a public URL")
        .to_string();
    // Keep reading the request events so the agent never blocks on a full pipe.
    let events = Arc::new(AtomicU64::new(0));
    let counted = events.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.starts_with("{\"event\":\"request\"") {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            line.clear();
        }
    });
    (child, url, events)
}
