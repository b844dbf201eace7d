//! Soak: 100 000 requests through the tunnel at 64 connections (SOAK_REQUESTS,
//! SOAK_CONNECTIONS), recording on. Prints errors, how many exchanges the agent recorded
//! (events printed, and rows in its store once it has stopped), and the relay's and the
//! agent's resident memory after warm-up, at the end, and at their peak: flat is the goal.
//!
//! Run: `cargo bench --bench soak` (about a minute). Loopback only, bounded in count.

mod load;
mod procs;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use procs::{Guard, start_agent, start_app, start_relay};
use tokio::net::TcpStream;

/// Resident memory of process `pid` now, MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Sends `total` POSTs of `body` to `url` over `connections` keep-alive connections; gives
/// the requests answered 2xx and the failures.
async fn send(url: &str, body: Bytes, total: u64, connections: u64) -> (u64, u64) {
    let uri: http::Uri = url.parse().expect("a URL");
    let authority = uri.authority().expect("a host").to_string();
    let path = uri.path().to_string();
    let next = Arc::new(AtomicU64::new(0));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (next, ok, failed) = (next.clone(), ok.clone(), failed.clone());
            let (authority, path, body) = (authority.clone(), path.clone(), body.clone());
            tokio::spawn(async move {
                let stream = TcpStream::connect(&authority).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .expect("handshake");
                tokio::spawn(conn);
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let req = Request::post(&path)
                        .header("host", &authority)
                        .body(Full::new(body.clone()))
                        .expect("a request");
                    let answered = match sender.send_request(req).await {
                        Ok(response) => {
                            let good = response.status().is_success();
                            good && response.into_body().collect().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    if answered {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

fn main() {
    let total = load::env_number("SOAK_REQUESTS", 100_000);
    let connections = load::env_number("SOAK_CONNECTIONS", 64);
    let app = start_app();
    let dir = tempfile::tempdir().expect("a temp dir");
    let (relay, relay_addr) = start_relay(dir.path());
    let relay = Guard(relay);
    let retain = (total * 2).to_string();
    let (agent, public_url, events) =
        start_agent(app, relay_addr, dir.path(), &["--retain", &retain]);
    let agent = Guard(agent);
    let (relay_pid, agent_pid) = (relay.0.id(), agent.0.id());
    let url = format!("{public_url}/soak");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let body = load::json_body(1024);

    let warm = 2_000.min(total);
    let (warm_ok, warm_failed) = runtime.block_on(send(&url, body.clone(), warm, connections));
    let start_rss = (rss_mib(relay_pid), rss_mib(agent_pid));
    load::reset_peak_rss(relay_pid);
    load::reset_peak_rss(agent_pid);
    let started = Instant::now();
    let (ok, failed) = runtime.block_on(send(&url, body, total, connections));
    let elapsed = started.elapsed();
    let end_rss = (rss_mib(relay_pid), rss_mib(agent_pid));
    let peaks = (load::peak_rss_mib(relay_pid), load::peak_rss_mib(agent_pid));

    // Every answered request's record: wait (bounded) for the events, then stop the agent
    // (Ctrl-C: it finishes and flushes) and count the rows in its store.
    let answered = warm_ok + ok;
    let deadline = Instant::now() + Duration::from_secs(30);
    while events.load(Ordering::Relaxed) < answered && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let printed = events.load(Ordering::Relaxed);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &agent_pid.to_string()])
        .status();
    let mut agent = agent;
    let _ = agent.0.wait();
    let stored = hooktap::store::Store::open_read_only(&dir.path().join("agent.db"))
        .and_then(|store| {
            store.list(&hooktap::store::Filter {
                limit: Some(usize::MAX >> 1),
                ..Default::default()
            })
        })
        .map_or(0, |rows| rows.len() as u64);

    println!(
        "soak: {ok} of {total} requests answered 2xx through the tunnel at {connections} connections \
         in {:.1} s ({:.0} req/s), {} failed",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        failed + warm_failed
    );
    println!(
        "records: {printed} events printed, {stored} rows stored, for {answered} answered requests \
         (warm-up included){}",
        if stored == answered && printed == answered {
            ": none lost"
        } else {
            ": SOME LOST"
        }
    );
    println!(
        "memory: relay {:.1} MiB after warm-up, {:.1} MiB at the end, peak {:.1} MiB; \
         agent {:.1} MiB after warm-up, {:.1} MiB at the end, peak {:.1} MiB",
        start_rss.0, end_rss.0, peaks.0, start_rss.1, end_rss.1, peaks.1
    );
    drop(relay);
}
