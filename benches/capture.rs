//! Benchmark: `client → app` directly against `client → hooktap listen → app` with
//! recording on (a real SQLite file), in one run. Prints requests per second at 32
//! connections, p50/p99 latency at 1 connection, and the ratios.
//!
//! Run: `cargo bench --bench capture` (BENCH_SECS sets the seconds per measurement).

mod load;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(secs);
    let app = load::start_app();
    let dir = tempfile::tempdir().unwrap();
    // HOOKTAP_BENCH_WRAPPER runs hooktap under a profiler, e.g.
    // "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out".
    let wrapper = std::env::var("HOOKTAP_BENCH_WRAPPER").unwrap_or_default();
    let mut command = wrapper
        .split_whitespace()
        .map(str::to_string)
        .collect::<Vec<_>>();
    command.push(env!("CARGO_BIN_EXE_hooktap").to_string());
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
    // Drain the NDJSON events so the pipe never blocks hooktap.
    std::thread::spawn(move || for _ in stdout.lines() {});

    let body = load::json_body(1024);
    // Warm both paths (connection pools, SQLite pages).
    load::run_load(app, "/hook", body.clone(), 4, Duration::from_millis(300));
    let warm = load::run_load(via, "/hook", body.clone(), 4, Duration::from_millis(300));

    let plain = load::start_plain_proxy(app);
    load::run_load(plain, "/hook", body.clone(), 4, Duration::from_millis(300));

    let direct = load::run_load(app, "/hook", body.clone(), 32, duration);
    let reference = load::run_load(plain, "/hook", body.clone(), 32, duration);
    let cpu_before = load::cpu_time_us(child.id());
    let proxied = load::run_load(via, "/hook", body.clone(), 32, duration);
    let cpu_per_request =
        (load::cpu_time_us(child.id()) - cpu_before) as f64 / proxied.requests as f64;
    let direct_1 = load::run_load(app, "/hook", body.clone(), 1, duration);
    let proxied_1 = load::run_load(via, "/hook", body.clone(), 1, duration);

    println!("hooktap listen benchmark, 1 KiB JSON POSTs, recording on, {secs}s per measurement");
    println!(
        "throughput @32 conns: direct {:.0} req/s, via hooktap {:.0} req/s, ratio {:.1}%",
        direct.rps(),
        proxied.rps(),
        100.0 * proxied.rps() / direct.rps()
    );
    println!(
        "reference: a plain hyper proxy that records nothing, {:.0} req/s, ratio {:.1}%",
        reference.rps(),
        100.0 * reference.rps() / direct.rps()
    );
    println!("hooktap CPU per request @32 conns: {cpu_per_request:.1} µs");
    for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
        let d = direct_1.percentile_us(p);
        let v = proxied_1.percentile_us(p);
        println!(
            "latency {name} @1 conn: direct {d} µs, via hooktap {v} µs, added {} µs",
            v as i64 - d as i64
        );
    }
    println!(
        "requests through hooktap in this run: {}",
        proxied.requests + proxied_1.requests + warm.requests
    );
    println!(
        "hooktap peak memory: {:.1} MiB",
        load::peak_rss_mib(child.id())
    );
    // Ctrl-C, so hooktap (and a profiler around it) exits cleanly.
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
