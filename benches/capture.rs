//! Benchmark: `client → app` directly against `client → hooktap listen → app` with
//! recording on (a real SQLite file), in one run. Prints requests per second at 32
//! connections, p50/p99 latency at 1 connection, and the ratios.
//!
//! Also: how soon each exchange is committed and its event printed after its response
//! ended (p50/p99, at 1 000 req/s and under full load), 1 MiB bodies at 4 connections,
//! and hooktap's peak memory in each phase.
//!
//! Run: `cargo bench --bench capture`. BENCH_SECS (default 5) is the time per measurement,
//! split over BENCH_ROUNDS (default 5) interleaved rounds.

mod load;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use load::{Tracker, median};

/// When each tracked request's event was read from hooktap's output.
type Seen = Arc<Mutex<HashMap<u64, Instant>>>;

fn main() {
    let secs: u64 = load::env_number("BENCH_SECS", 5);
    let rounds: u64 = load::env_number("BENCH_ROUNDS", 5).max(1);
    let duration = Duration::from_millis(secs * 1000 / rounds).max(Duration::from_millis(200));
    let app = load::start_app();
    let dir = tempfile::tempdir().unwrap();
    // HOOKTAP_BENCH_WRAPPER runs hooktap under a profiler, e.g.
    // "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out".
    let wrapper = std::env::var("HOOKTAP_BENCH_WRAPPER").unwrap_or_default();
    let mut command = wrapper
        .split_whitespace()
        .map(str::to_string)
        .collect::<Vec<_>>();
    // HOOKTAP_BENCH_BIN measures another build (an older commit, say) in the same setup.
    command.push(
        std::env::var("HOOKTAP_BENCH_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_hooktap").to_string()),
    );
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .args([
            "listen",
            &app.port().to_string(),
            "--capture-addr",
            "127.0.0.1:0",
            "--json",
            "--store",
        ])
        // HOOKTAP_BENCH_STORE=:memory: separates the disk's cost from the rest.
        .arg(
            std::env::var("HOOKTAP_BENCH_STORE")
                .unwrap_or_else(|_| dir.path().join("bench.db").display().to_string()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hooktap listen");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    let via: std::net::SocketAddr = ready["capture_addr"].as_str().unwrap().parse().unwrap();
    // Read the NDJSON events as they come (so the pipe never blocks hooktap), noting when
    // each tracked request's event arrived.
    let seen: Seen = Arc::default();
    let events_seen = seen.clone();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(n) = event["path"].as_str().and_then(load::tracked_number) {
                events_seen.lock().unwrap().insert(n, Instant::now());
            }
        }
    });
    let pid = child.id();

    let body = load::json_body(1024);
    // Warm both paths (connection pools, SQLite pages).
    load::run_load(app, "/hook", body.clone(), 4, Duration::from_millis(300));
    let warm = load::run_load(via, "/hook", body.clone(), 4, Duration::from_millis(300));

    let plain = load::start_plain_proxy(app);
    load::run_load(plain, "/hook", body.clone(), 4, Duration::from_millis(300));

    // The machine's speed drifts over seconds (other VMs, frequency): measure in short
    // interleaved rounds and report the median of each round's ratio, so both sides of a
    // ratio see the same machine.
    let mut throughput = Vec::new();
    let mut reference = Vec::new();
    let mut cpu = Vec::new();
    let mut plain_cpu = Vec::new();
    let mut spends = Vec::new();
    let mut added_p50 = Vec::new();
    let mut added_p99 = Vec::new();
    let mut via_requests = warm.requests;
    let full_load = Arc::new(Tracker::default());
    load::reset_peak_rss(pid);
    for _ in 0..rounds {
        let (direct, direct_spend) =
            load::measured(|| load::run_load(app, "/hook", body.clone(), 32, duration));
        let (plain_run, plain_spend) =
            load::measured(|| load::run_load(plain, "/hook", body.clone(), 32, duration));
        plain_cpu.push(
            plain_spend
                .threads
                .iter()
                .find(|(name, _)| name == "plain-proxy")
                .map_or(0.0, |(_, us)| *us),
        );
        let threads_before = load::thread_cpu_us(child.id());
        let (proxied, via_spend) = load::measured(|| {
            let tracker = Some(full_load.clone());
            load::run_load_with(via, "/hook", body.clone(), 32, duration, None, tracker)
        });
        let threads_after = load::thread_cpu_us(child.id());
        spends.push([direct_spend, plain_spend, via_spend]);
        throughput.push((direct.rps(), proxied.rps()));
        reference.push(plain_run.rps() / direct.rps());
        cpu.push(load::per_request(
            &threads_before,
            &threads_after,
            proxied.requests,
        ));
        let direct_1 = load::run_load(app, "/hook", body.clone(), 1, duration);
        let proxied_1 = load::run_load(via, "/hook", body.clone(), 1, duration);
        for (p, added) in [(0.50, &mut added_p50), (0.99, &mut added_p99)] {
            added.push(proxied_1.percentile_us(p) as f64 - direct_1.percentile_us(p) as f64);
        }
        via_requests += proxied.requests + proxied_1.requests;
    }
    let peak_1k = load::peak_rss_mib(pid);
    let full_lag = commit_lag(&full_load, &seen);

    // 1 000 req/s: 4 connections, each starting a request every 4 ms.
    let paced = Arc::new(Tracker::default());
    load::reset_peak_rss(pid);
    let paced_secs = load::env_number("BENCH_PACED_SECS", 3);
    let paced_run = load::run_load_with(
        via,
        "/hook",
        body.clone(),
        4,
        Duration::from_secs(paced_secs),
        Some(Duration::from_millis(4)),
        Some(paced.clone()),
    );
    let paced_lag = commit_lag(&paced, &seen);
    let peak_paced = load::peak_rss_mib(pid);

    // 1 MiB bodies at 4 connections, recorded whole (under the 10 MiB capture limit).
    let big = load::json_body(1024 * 1024);
    load::reset_peak_rss(pid);
    let big_secs = load::env_number("BENCH_BIG_SECS", 3);
    let big_run = load::run_load(via, "/big", big.clone(), 4, Duration::from_secs(big_secs));
    let peak_big = load::peak_rss_mib(pid);
    via_requests += paced_run.requests + big_run.requests;

    println!(
        "hooktap listen benchmark, 1 KiB JSON POSTs, recording on, {rounds} interleaved rounds \
         of {} ms per measurement; medians",
        duration.as_millis()
    );
    let ratios: Vec<f64> = throughput.iter().map(|(d, v)| v / d).collect();
    println!(
        "throughput @32 conns: direct {:.0} req/s, via hooktap {:.0} req/s, ratio {:.1}% \
         (rounds: {})",
        median(throughput.iter().map(|t| t.0).collect()),
        median(throughput.iter().map(|t| t.1).collect()),
        100.0 * median(ratios.clone()),
        load::percents(&ratios, 1)
    );
    println!(
        "reference: a plain hyper proxy that records nothing, ratio {:.1}% (rounds: {})",
        100.0 * median(reference.clone()),
        load::percents(&reference, 1)
    );
    println!(
        "plain proxy CPU per request @32 conns: {:.1} µs",
        median(plain_cpu)
    );
    let threads: Vec<&String> = cpu[0].iter().map(|(name, _)| name).collect();
    println!(
        "hooktap CPU per request @32 conns: {:.1} µs (by thread: {})",
        median(cpu.iter().map(|c| c.iter().map(|t| t.1).sum()).collect()),
        threads
            .iter()
            .map(|name| format!(
                "{name} {:.1}",
                median(
                    cpu.iter()
                        .filter_map(|c| c.iter().find(|t| &t.0 == *name).map(|t| t.1))
                        .collect()
                )
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_spends(&spends);
    println!(
        "latency @1 conn, added by hooktap: p50 {:.0} µs, p99 {:.0} µs",
        median(added_p50),
        median(added_p99)
    );
    for (label, lag) in [
        ("at 1 000 req/s", &paced_lag),
        ("under full load @32 conns", &full_lag),
    ] {
        println!(
            "commit + event after the response ended, {label}: p50 {:.1} ms, p99 {:.1} ms, \
             max {:.1} ms ({} events of {} responses)",
            lag.p50_ms, lag.p99_ms, lag.max_ms, lag.seen, lag.ended,
        );
    }
    println!(
        "1 MiB POSTs @4 conns via hooktap: {:.1} MB/s ({} requests)",
        big_run.requests as f64 * big.len() as f64 / 1e6 / big_run.elapsed.as_secs_f64(),
        big_run.requests
    );
    println!("requests through hooktap in this run: {}", via_requests);
    println!(
        "hooktap peak memory by phase: 1 KiB rounds {peak_1k:.1} MiB, 1 000 req/s \
         {peak_paced:.1} MiB, 1 MiB bodies {peak_big:.1} MiB"
    );
    // Ctrl-C, so hooktap (and a profiler around it) exits cleanly.
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// How long after their responses ended the tracked requests' events were read.
struct Lag {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    seen: usize,
    ended: usize,
}

/// Waits (at most 10 s) for the events of `tracker`'s requests, then measures their lag.
/// A request with no event is one hooktap did not record: `seen` < `ended` shows it.
fn commit_lag(tracker: &Tracker, seen: &Seen) -> Lag {
    let ends = tracker.take();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let seen = seen.lock().unwrap();
        if ends.keys().all(|n| seen.contains_key(n)) {
            break;
        }
        drop(seen);
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = seen.lock().unwrap();
    let lags: Vec<f64> = ends
        .iter()
        .filter_map(|(n, end)| {
            let at = seen.get(n)?;
            Some(at.saturating_duration_since(*end).as_secs_f64() * 1000.0)
        })
        .collect();
    Lag {
        p50_ms: load::percentile(lags.clone(), 0.50),
        p99_ms: load::percentile(lags.clone(), 0.99),
        max_ms: load::percentile(lags.clone(), 1.0),
        seen: lags.len(),
        ended: ends.len(),
    }
}

/// Where the machine's CPU went per request @32 connections, for each path: the whole
/// machine (every process and the kernel), its idle share, and the load generator's and
/// the app's threads. A hop costs its own CPU plus what it adds to the others.
fn print_spends(spends: &[[load::Spend; 3]]) {
    let thread = |s: &load::Spend, name: &str| {
        s.threads
            .iter()
            .filter(|(n, _)| n.starts_with(name))
            .map(|(_, us)| us)
            .sum::<f64>()
    };
    let line = ["direct", "plain proxy", "hooktap"]
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let of =
                |f: &dyn Fn(&load::Spend) -> f64| median(spends.iter().map(|s| f(&s[i])).collect());
            format!(
                "{label} {:.1} µs (idle {:.0}%, load {:.1}, app {:.1})",
                of(&|s| s.machine_us),
                100.0 * of(&|s| s.idle_share),
                of(&|s| thread(s, "capture")),
                of(&|s| thread(s, "app")),
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    println!("machine CPU per request @32 conns: {line}");
}
