//! Benchmark: the store's writer threads alone. Records 1 KiB exchanges (as the capture
//! bench sends them) at a steady rate into a real SQLite file and prints the CPU per
//! record of the writer thread, so store changes can be compared without
//! the noise of a whole proxy run.
//!
//! Run: `cargo bench --bench store`. STORE_RATE (records/s, default 30000), BENCH_SECS
//! (default 4), STORE_BODY (request body bytes, default 1024: the cost that grows with the
//! payload against the cost of a row).

mod load;

// As the hooktap binary runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use hooktap::exchange::{Body, Exchange, ExchangeId, RecordedRequest, RecordedResponse, Source};
use hooktap::store::{Location, Options, Store};

fn exchange(body: &[u8]) -> Exchange {
    let header = |n: &str, v: &str| (n.to_string(), v.as_bytes().to_vec());
    Exchange {
        id: ExchangeId::generate(),
        received_at_us: 0,
        source: Source::Local,
        public_url: None,
        target: "http://127.0.0.1:5000/hook".into(),
        request: RecordedRequest {
            method: "POST".into(),
            uri: "/hook".into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                header("host", "127.0.0.1:4747"),
                header("content-type", "application/json"),
                header("content-length", "1024"),
            ],
            body: Body::full(body.to_vec()),
        },
        response: Some(RecordedResponse {
            status: 200,
            headers: vec![
                header("content-length", "12"),
                header("date", "Mon, 30 Nov 2026 05:00:00 GMT"),
            ],
            body: Body::full(b"{\"ok\":1024}".to_vec()),
        }),
        ttfb_us: Some(40),
        duration_us: 50,
        error: None,
        replay_of: None,
        verdict: None,
    }
}

fn main() {
    let rate: u64 = load::env_number("STORE_RATE", 30_000);
    let secs: u64 = load::env_number("BENCH_SECS", 4);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Options {
        location: Location::File(dir.path().join("bench.db")),
        retain: hooktap::store::DEFAULT_RETAIN,
        retain_bytes: None,
        verdict: None,
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = load::json_body(load::env_number("STORE_BODY", 1024) as usize);
    // Fill to the retention count first, so every batch also deletes the oldest.
    for _ in 0..hooktap::store::DEFAULT_RETAIN {
        store.record(exchange(&body));
    }
    runtime.block_on(store.flush()).unwrap();

    // The writer thread ("hooktap-store").
    let writer = |threads: &[(String, u64)]| {
        threads
            .iter()
            .filter(|(name, _)| name.starts_with("hooktap-store"))
            .map(|(_, us)| *us)
            .sum::<u64>()
    };
    let pid = std::process::id();
    let before = writer(&load::thread_cpu_us(pid));
    let started = Instant::now();
    let mut sent = 0u64;
    match std::env::var("STORE_BATCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        // Fixed batches, each committed by a flush: the same work on every run, for
        // instruction counts under callgrind (STORE_RECORDS records in all).
        Some(batch) => {
            let records: u64 = load::env_number("STORE_RECORDS", 30_000);
            while sent < records {
                for _ in 0..batch {
                    store.record(exchange(&body));
                }
                sent += batch;
                runtime.block_on(store.flush()).unwrap();
            }
        }
        None => {
            let tick = Duration::from_millis(1);
            let per_tick = (rate / 1000).max(1);
            while started.elapsed() < Duration::from_secs(secs) {
                for _ in 0..per_tick {
                    store.record(exchange(&body));
                }
                sent += per_tick;
                let next = started + tick * (sent / per_tick) as u32;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }
    }
    runtime.block_on(store.flush()).unwrap();
    let elapsed = started.elapsed();
    let after = writer(&load::thread_cpu_us(pid));
    println!(
        "store writer: {sent} records at {:.0}/s, CPU per record {:.2} µs, peak memory {:.1} MiB",
        sent as f64 / elapsed.as_secs_f64(),
        (after - before) as f64 / sent as f64,
        load::peak_rss_mib(pid)
    );
}
