//! The tunnel against a direct connection, in one run (DESIGN §8).
//!
//! An app runs in this process; the relay and the agent (`hooktap listen --relay`, with
//! recording on) run as child processes of the built binary so their memory can be read
//! from /proc. Run with `cargo bench --bench tunnel`; it takes about half a minute.

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use load::median;
use tokio::net::{TcpListener, TcpStream};

mod load;

const SMALL: usize = 1024;
const LARGE: usize = 1 << 20;
const UPLOAD: usize = 1 << 30;

/// `HOOKTAP_BENCH_SECS` (default 3) per measurement (throughput ones in 5 interleaved rounds); `HOOKTAP_BENCH_ONLY=rps,latency,mb,upload` to
/// run some parts only (for profiling).
fn settings() -> (Duration, String) {
    let secs = std::env::var("HOOKTAP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let only =
        std::env::var("HOOKTAP_BENCH_ONLY").unwrap_or_else(|_| "rps,latency,mb,upload".into());
    (Duration::from_secs(secs), only)
}

fn main() {
    let app = start_app();
    let dir = std::env::temp_dir().join(format!("hooktap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let (relay, relay_addr) = start_relay(&dir);
    let relay = Guard(relay);
    let (agent, public_url) = start_agent(app, relay_addr, &dir);
    let agent = Guard(agent);
    let direct = format!("http://{app}/bench");
    let tunnel = format!("{public_url}/bench");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (run, only) = settings();
    let rounds = 5;
    let round = (run / rounds).max(Duration::from_millis(200));
    let pids = (relay.0.id(), agent.0.id());
    // Peak memory of each phase: (phase, relay MiB, agent MiB).
    let mut peaks: Vec<(&str, f64, f64)> = Vec::new();
    let mut phase_done = |label| {
        peaks.push((
            label,
            load::peak_rss_mib(pids.0),
            load::peak_rss_mib(pids.1),
        ));
        load::reset_peak_rss(pids.0);
        load::reset_peak_rss(pids.1);
    };
    phase_done("start");
    runtime.block_on(async {
        println!(
            "hooktap tunnel benchmark ({} s per run; relay pid {}, agent pid {})",
            run.as_secs(),
            relay.0.id(),
            agent.0.id()
        );
        println!(
            "{:<34} {:>14} {:>14} {:>8}",
            "", "direct", "tunnel", "ratio"
        );
        if only.contains("rps") {
            // Interleaved rounds, median ratio: the machine's speed drifts over seconds.
            let mut ratios = Vec::new();
            let mut rates = Vec::new();
            let mut cpu = Vec::new();
            let mut machine = Vec::new();
            for _ in 0..rounds {
                let spent = load::machine_cpu_us();
                let d = load(&direct, SMALL, 32, round).await;
                let before = [relay.cpu_us(), agent.cpu_us()];
                let between = load::machine_cpu_us();
                let t = load(&tunnel, SMALL, 32, round).await;
                let after = load::machine_cpu_us();
                let n = t.latencies_us.len().max(1) as f64;
                cpu.push([
                    (relay.cpu_us() - before[0]) as f64 / n,
                    (agent.cpu_us() - before[1]) as f64 / n,
                ]);
                machine.push([
                    load::machine_spend(spent, between, d.latencies_us.len() as u64),
                    load::machine_spend(between, after, t.latencies_us.len() as u64),
                ]);
                ratios.push(t.rate() / d.rate());
                rates.push((d.rate(), t.rate()));
            }
            row_median("1 KiB POST, 32 conns, req/s", &rates, &ratios);
            println!(
                "{:<34} relay {:.1}, agent {:.1} (with recording)",
                "  CPU µs per request",
                median(cpu.iter().map(|c| c[0]).collect()),
                median(cpu.iter().map(|c| c[1]).collect())
            );
            // (busy µs per request, idle share) of the direct (0) and tunnel (1) rounds.
            let of = |i: usize, f: fn(&(f64, f64)) -> f64| {
                median(machine.iter().map(|m| f(&m[i])).collect())
            };
            println!(
                "{:<34} direct {:.1} (idle {:.0}%), tunnel {:.1} (idle {:.0}%)",
                "  machine CPU µs per request",
                of(0, |s| s.0),
                100.0 * of(0, |s| s.1),
                of(1, |s| s.0),
                100.0 * of(1, |s| s.1),
            );
            phase_done("1 KiB @32");
        }
        if only.contains("latency") {
            let d = load(&direct, SMALL, 1, run).await;
            let t = load(&tunnel, SMALL, 1, run).await;
            row(
                "1 KiB POST, 1 conn, p50 µs",
                d.percentile(50.0),
                t.percentile(50.0),
            );
            row(
                "1 KiB POST, 1 conn, p99 µs",
                d.percentile(99.0),
                t.percentile(99.0),
            );
            phase_done("1 KiB @1");
        }
        if only.contains("mb") {
            let mut ratios = Vec::new();
            let mut rates = Vec::new();
            for _ in 0..rounds {
                let d = load(&direct, LARGE, 4, round).await;
                let t = load(&tunnel, LARGE, 4, round).await;
                ratios.push(t.rate() / d.rate());
                rates.push((d.megabytes(LARGE), t.megabytes(LARGE)));
            }
            row_median("1 MiB POST, 4 conns, MB/s", &rates, &ratios);
            phase_done("1 MiB @4");
        }
        if !only.contains("upload") {
            return;
        }
        let started = Instant::now();
        upload(&tunnel, UPLOAD).await;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{} MiB upload through the tunnel: {:.0} MB/s",
            UPLOAD >> 20,
            UPLOAD as f64 / 1e6 / secs
        );
        phase_done("1 GiB upload");
    });
    println!("peak memory by phase (VmHWM, target < 64 MiB each):");
    for (phase, relay_mib, agent_mib) in &peaks[1..] {
        println!("  {phase:<14} relay {relay_mib:.1} MiB, agent {agent_mib:.1} MiB");
    }
    drop((relay, agent));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills the child process when dropped, also when the bench panics.
struct Guard(Child);

impl Guard {
    fn cpu_us(&self) -> u64 {
        load::cpu_time_us(self.0.id())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A row of medians over rounds of (direct, tunnel) and of the rounds' ratios.
fn row_median(label: &str, values: &[(f64, f64)], ratios: &[f64]) {
    row(
        label,
        median(values.iter().map(|v| v.0).collect()),
        median(values.iter().map(|v| v.1).collect()),
    );
    println!(
        "{:<34} ratio {:.0}% (median of rounds: {})",
        "",
        100.0 * median(ratios.to_vec()),
        load::percents(ratios, 0)
    );
}

fn row(label: &str, direct: f64, tunnel: f64) {
    let ratio = if direct > 0.0 { tunnel / direct } else { 0.0 };
    println!(
        "{label:<34} {direct:>14.1} {tunnel:>14.1} {:>7.0}%",
        ratio * 100.0
    );
}

/// An app that reads the whole body and answers `ok`, on its own thread.
fn start_app() -> SocketAddr {
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
fn binary() -> String {
    std::env::var("HOOKTAP_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hooktap").to_string())
}

fn start_relay(dir: &std::path::Path) -> (Child, SocketAddr) {
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

fn start_agent(app: SocketAddr, relay: SocketAddr, dir: &std::path::Path) -> (Child, String) {
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
    std::thread::spawn(move || {
        let mut sink = String::new();
        while lines.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    (child, url)
}

struct Results {
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

impl Results {
    fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn megabytes(&self, size: usize) -> f64 {
        self.rate() * size as f64 / 1e6
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[index] as f64
    }
}

/// `connections` keep-alive connections POST `size` bytes back to back for `run`.
async fn load(url: &str, size: usize, connections: usize, run: Duration) -> Results {
    let uri: http::Uri = url.parse().expect("a URL");
    let addr = uri.authority().expect("an authority").to_string();
    let path = uri.path_and_query().expect("a path").to_string();
    let body = Bytes::from(vec![b'x'; size]);
    let started = Instant::now();
    let deadline = started + run;
    let workers = (0..connections).map(|_| {
        let (addr, path, body) = (addr.clone(), path.clone(), body.clone());
        tokio::spawn(async move {
            let stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let request = Request::post(path.as_str())
                    .header("host", addr.as_str())
                    .body(Full::new(body.clone()))
                    .expect("a request");
                let sent = Instant::now();
                let Ok(response) = sender.send_request(request).await else {
                    break;
                };
                let ok = response.status().is_success();
                let _ = response.into_body().collect().await;
                if !ok {
                    eprintln!("bench: a request failed");
                    break;
                }
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            latencies
        })
    });
    let mut latencies_us = Vec::new();
    for worker in futures_util::future::join_all(workers).await {
        latencies_us.extend(worker.expect("a worker"));
    }
    Results {
        latencies_us,
        elapsed: started.elapsed(),
    }
}

/// One streamed upload of `size` bytes.
async fn upload(url: &str, size: usize) {
    const CHUNK: usize = 256 * 1024;
    let chunk = Bytes::from(vec![b'u'; CHUNK]);
    let frames = futures_util::stream::iter(
        (0..size / CHUNK).map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone()))),
    );
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = Request::post(url)
        .header("content-length", size.to_string())
        .body(StreamBody::new(frames))
        .expect("a request");
    let response = client.request(request).await.expect("the upload passes");
    assert!(
        response.status().is_success(),
        "upload: {}",
        response.status()
    );
    let _ = response.into_body().collect().await;
}
