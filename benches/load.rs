//! A small load generator shared by the benchmarks: fixed connections, fixed body,
//! requests per second and latency percentiles. Loopback only, bounded in time.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// Result of one load run.
pub struct Run {
    pub requests: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u64>,
}

impl Run {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub fn percentile_us(&self, p: f64) -> u64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }
}

/// `connections` keep-alive HTTP/1.1 connections to `addr`, each POSTing `body` to `path`
/// back to back for `duration`.
pub fn run_load(
    addr: SocketAddr,
    path: &str,
    body: Bytes,
    connections: usize,
    duration: Duration,
) -> Run {
    run_load_with(addr, path, body, connections, duration, None, None)
}

/// Notes when each request's response ended, by a number carried in its query
/// (`?n=…`), so the benchmark can match it with hooktap's event for it.
#[derive(Default)]
pub struct Tracker {
    next: AtomicU64,
    ends: Mutex<HashMap<u64, Instant>>,
}

impl Tracker {
    fn start(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn ended(&self, n: u64) {
        self.ends.lock().unwrap().insert(n, Instant::now());
    }

    /// Responses ended so far.
    pub fn len(&self) -> usize {
        self.ends.lock().unwrap().len()
    }

    /// Takes the noted ends.
    pub fn take(&self) -> HashMap<u64, Instant> {
        std::mem::take(&mut self.ends.lock().unwrap())
    }
}

/// The number [`Tracker`] put in a request's path (`/hook?n=12`).
pub fn tracked_number(path: &str) -> Option<u64> {
    path.rsplit_once("?n=")?.1.parse().ok()
}

/// [`run_load`], optionally paced (each connection starts a request every `pace`) and
/// tracked (each request carries a number, and its end is noted).
pub fn run_load_with(
    addr: SocketAddr,
    path: &str,
    body: Bytes,
    connections: usize,
    duration: Duration,
    pace: Option<Duration>,
    tracker: Option<Arc<Tracker>>,
) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let deadline = Instant::now() + duration;
        let started = Instant::now();
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                let body = body.clone();
                let path = path.to_string();
                let tracker = tracker.clone();
                tokio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.expect("connect");
                    stream.set_nodelay(true).unwrap();
                    let (mut send, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream))
                            .await
                            .expect("handshake");
                    tokio::spawn(conn);
                    let mut ticks = pace.map(|p| {
                        let mut ticks = tokio::time::interval(p);
                        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        ticks
                    });
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        if let Some(ticks) = ticks.as_mut() {
                            ticks.tick().await;
                        }
                        let n = tracker.as_ref().map(|t| t.start());
                        let uri = match n {
                            Some(n) => format!("{path}?n={n}"),
                            None => path.clone(),
                        };
                        let req = Request::post(uri)
                            .header("host", addr.to_string())
                            .header("content-type", "application/json")
                            .body(Full::new(body.clone()))
                            .unwrap();
                        let t = Instant::now();
                        let response = send.send_request(req).await.expect("request");
                        assert!(
                            response.status().is_success(),
                            "status {}",
                            response.status()
                        );
                        response.into_body().collect().await.expect("body");
                        latencies.push(t.elapsed().as_micros() as u64);
                        if let (Some(tracker), Some(n)) = (&tracker, n) {
                            tracker.ended(n);
                        }
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies_us = Vec::new();
        for worker in workers {
            latencies_us.extend(worker.await.unwrap());
        }
        Run {
            requests: latencies_us.len() as u64,
            elapsed: started.elapsed(),
            latencies_us,
        }
    })
}

/// Resets the peak resident memory of process `pid` to its current size, so
/// [`peak_rss_mib`] then reports the peak of what follows (Linux `clear_refs`).
pub fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A percentile of `values` (0 when empty).
pub fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    values[((values.len() as f64 - 1.0) * p).round() as usize]
}

/// Serves HTTP/1.1 with `service` on a loopback port, on a thread named `name` with its own
/// current-thread runtime (as hooktap runs); `make` builds the service inside that runtime.
fn serve<M, S, B>(name: &str, make: M) -> SocketAddr
where
    M: FnOnce() -> S + Send + 'static,
    S: hyper::service::Service<
            Request<hyper::body::Incoming>,
            Response = Response<B>,
            Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        > + Clone
        + 'static,
    B: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let service = make();
                let listener = TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    stream.set_nodelay(true).unwrap();
                    let service = service.clone();
                    tokio::task::spawn_local(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })
        .unwrap();
    addr
}

/// A minimal app on its own thread and runtime: answers every request 200 with a small
/// JSON body after reading the request body.
pub fn start_app() -> SocketAddr {
    serve("app", || {
        service_fn(|req: Request<hyper::body::Incoming>| async move {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                "{{\"ok\":{body}}}"
            )))))
        })
    })
}

/// A 1 KiB JSON body.
pub fn json_body(size: usize) -> Bytes {
    let mut text = String::from("{\"type\":\"invoice.paid\",\"data\":\"");
    while text.len() < size - 2 {
        text.push('x');
    }
    text.push_str("\"}");
    Bytes::from(text)
}

/// Peak resident memory of process `pid` in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU time (user + system) used so far by process `pid`, in microseconds.
pub fn cpu_time_us(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    parse_stat(&stat).map_or(0, |(_, us)| us)
}

/// The name and the CPU time (user + system, µs) in a `/proc/…/stat` line.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    // Fields after the command name (which may contain spaces) start after ") ".
    let (head, rest) = stat.rsplit_once(") ")?;
    let name = head.split_once(" (").map_or("?", |(_, n)| n).to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // Linux reports in clock ticks of 1/100 s on every common configuration.
    Some((name, ticks * 10_000))
}

/// The median of `values` (0 when empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Ratios as percentages, space-separated, for printing each round.
pub fn percents(ratios: &[f64], decimals: usize) -> String {
    ratios
        .iter()
        .map(|r| format!("{:.*}", decimals, 100.0 * r))
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU time (user + system) used so far by each thread of process `pid`, by thread name,
/// in microseconds.
pub fn thread_cpu_us(pid: u32) -> Vec<(String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut threads: Vec<(String, u64)> = Vec::new();
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((name, us)) = parse_stat(&stat) else {
            continue;
        };
        match threads.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += us,
            None => threads.push((name, us)),
        }
    }
    threads.sort();
    threads
}

/// A reference point: a plain hyper HTTP/1.1 proxy that records nothing, on its own
/// thread and current-thread runtime (as hooktap runs), forwarding to `app`.
pub fn start_plain_proxy(app: SocketAddr) -> SocketAddr {
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    serve("plain-proxy", move || {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<_, hyper::body::Incoming> =
            Client::builder(TokioExecutor::new()).build(connector);
        service_fn(move |mut req: Request<hyper::body::Incoming>| {
            let client = client.clone();
            async move {
                let pq = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                *req.uri_mut() = format!("http://{app}{pq}").parse().unwrap();
                client.request(req).await
            }
        })
    })
}

/// The whole machine's busy and idle CPU time so far (µs, all cores, steal left out), from
/// `/proc/stat`.
pub fn machine_cpu_us() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0) * 10_000;
    // user nice system idle iowait irq softirq steal
    (at(0) + at(1) + at(2) + at(5) + at(6), at(3) + at(4))
}

/// Where the CPU went during one load run: the whole machine's busy time, its idle share,
/// and this process's threads, each per request.
pub struct Spend {
    pub machine_us: f64,
    pub idle_share: f64,
    pub threads: Vec<(String, f64)>,
}

/// The whole machine's busy µs per request and its idle share between two
/// [`machine_cpu_us`] readings around `requests` requests.
pub fn machine_spend(start: (u64, u64), end: (u64, u64), requests: u64) -> (f64, f64) {
    let busy = end.0.saturating_sub(start.0) as f64;
    let idle = end.1.saturating_sub(start.1) as f64;
    (busy / requests.max(1) as f64, idle / (busy + idle).max(1.0))
}

/// Runs `f` (a load run) and measures [`Spend`] around it.
pub fn measured(f: impl FnOnce() -> Run) -> (Run, Spend) {
    let own = std::process::id();
    let machine0 = machine_cpu_us();
    let threads0 = thread_cpu_us(own);
    let run = f();
    let threads1 = thread_cpu_us(own);
    let (machine_us, idle_share) = machine_spend(machine0, machine_cpu_us(), run.requests);
    let spend = Spend {
        machine_us,
        idle_share,
        threads: per_request(&threads0, &threads1, run.requests),
    };
    (run, spend)
}

/// A number from the environment variable `name`, or `default` when unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// CPU µs per request for each thread between two [`thread_cpu_us`] readings.
pub fn per_request(
    before: &[(String, u64)],
    after: &[(String, u64)],
    requests: u64,
) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(name, total)| {
            let start = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, b)| *b);
            (
                name.clone(),
                (total - start) as f64 / requests.max(1) as f64,
            )
        })
        .collect()
}
