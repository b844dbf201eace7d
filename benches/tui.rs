//! Benchmark: the inspector on 100 000 records (issue 15). Fills a store file, then
//! prints the time to the first frame (first page read, state built, one frame drawn on
//! ratatui's TestBackend), the time per frame while scrolling and while filtering
//! (in-memory terms), a text search over every body (its first results, each chunk: how
//! soon a cancelled one stops, and the whole), resident memory, and live: records
//! committed at 1 000 a second into a store the inspector follows (as `listen` feeds it,
//! from the store's commit stream), each one's time from `record` to the frame that
//! shows it, and the time per frame.
//!
//! Run: `cargo bench --bench tui`. TUI_RECORDS (default 100000), TUI_LIVE_SECS (5).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use hooktap::exchange::{Body, Exchange, ExchangeId, RecordedRequest, RecordedResponse, Source};
use hooktap::store::{Location, Options, Store};
use hooktap::tui::action::Action;
use hooktap::tui::app::{App, HeaderInfo, Row, TunnelState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn exchange(i: usize) -> Exchange {
    let body = format!(
        r#"{{"id":"evt_{i}","type":"charge.succeeded","data":{{"amount":{i},"pad":"{}"}}}}"#,
        "x".repeat(900)
    );
    Exchange {
        id: ExchangeId::generate(),
        received_at_us: i as i64,
        source: Source::Local,
        public_url: None,
        target: format!("http://127.0.0.1:5000/webhooks/x{}", i % 7),
        request: RecordedRequest {
            method: "POST".into(),
            uri: format!("/webhooks/x{}", i % 7),
            version: "HTTP/1.1".into(),
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                (
                    "x-github-delivery".into(),
                    format!("d-{}", i % 90_000).into_bytes(),
                ),
            ],
            body: Body::full(body.into_bytes()),
        },
        response: Some(RecordedResponse {
            status: [200, 201, 400, 500][i % 4],
            headers: Vec::new(),
            body: Body::full(b"ok".to_vec()),
        }),
        ttfb_us: Some(1000),
        duration_us: 2000,
        error: None,
        replay_of: None,
        verdict: None,
    }
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn draw(terminal: &mut Terminal<TestBackend>, app: &App) {
    terminal
        .draw(|f| hooktap::tui::render::render(app, f))
        .expect("a test backend draws");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let records: usize = std::env::var("TUI_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("bench.db");
    let store = Store::open(Options {
        location: Location::File(path.clone()),
        retain: usize::MAX,
        retain_bytes: Some(u64::MAX),
        verdict: None,
    })
    .expect("a store");
    let fill = Instant::now();
    for i in 0..records {
        store.room().await;
        store.record(exchange(i));
    }
    store.flush().await.expect("flushed");
    println!(
        "filled {records} records in {:.1}s",
        fill.elapsed().as_secs_f64()
    );
    let rss_before = rss_mib();

    let header = HeaderInfo {
        title: "viewer of bench.db".into(),
        public_urls: Vec::new(),
        target: None,
        tunnel: TunnelState::Viewer,
        queued_delivered: 0,
        dropped: 0,
        notice: None,
        writer: None,
    };
    let start = Instant::now();
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).expect("a terminal");
    let mut app = App::new(header, (120, 30));
    let (total, first) = store.browse(|b| {
        (
            b.count().unwrap_or(0),
            b.page(None, 500).unwrap_or_default(),
        )
    });
    app.update(Action::Total(total));
    app.update(Action::Page {
        rows: first.into_iter().map(Row::from_summary).collect(),
        last: false,
    });
    draw(&mut terminal, &app);
    println!(
        "first frame: {:.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );

    let start = Instant::now();
    let mut before = app.rows.front().map(|r| r.id);
    while let Some(id) = before {
        let page = store.browse(|b| b.page(Some(id), 5_000).unwrap_or_default());
        let last = page.len() < 5_000;
        app.update(Action::Page {
            rows: page.into_iter().map(Row::from_summary).collect(),
            last,
        });
        before = if last {
            None
        } else {
            app.rows.front().map(|r| r.id)
        };
    }
    println!(
        "all {} rows loaded in the background: {:.0} ms",
        app.rows.len(),
        start.elapsed().as_secs_f64() * 1000.0
    );

    let frames = 2_000;
    let start = Instant::now();
    for i in 0..frames {
        app.update(if i % 500 < 250 {
            Action::Down
        } else {
            Action::PageDown
        });
        draw(&mut terminal, &app);
    }
    println!(
        "scrolling: {:.2} ms per frame",
        start.elapsed().as_secs_f64() * 1000.0 / frames as f64
    );

    let start = Instant::now();
    let typed = "status:5xx path:x3";
    app.update(Action::StartFilter);
    for c in typed.chars() {
        app.update(Action::FilterChar(c));
        draw(&mut terminal, &app);
    }
    println!(
        "filtering ({} of {} shown): {:.2} ms per keystroke and frame",
        app.shown(),
        app.rows.len(),
        start.elapsed().as_secs_f64() * 1000.0 / typed.len() as f64
    );

    // As effects::search runs it, on a read-only connection of its own.
    let reader = Store::open_read_only(&path).expect("a reader");
    let browse = reader.browse();
    let start = Instant::now();
    let words = vec![format!("evt_{}", records / 2)];
    let mut hits = 0;
    let mut below = u64::MAX;
    let mut chunks = Vec::new();
    loop {
        let chunk_start = Instant::now();
        let chunk = browse
            .ids_below(below, hooktap::tui::effects::SEARCH_CHUNK)
            .unwrap_or_default();
        let (Some(&high), Some(&low)) = (chunk.first(), chunk.last()) else {
            break;
        };
        hits += browse
            .search(&words, low, high + 1)
            .unwrap_or_default()
            .len();
        chunks.push(chunk_start.elapsed().as_secs_f64() * 1000.0);
        below = low;
    }
    let total = start.elapsed().as_secs_f64() * 1000.0;
    let first = chunks.first().copied().unwrap_or(0.0);
    chunks.sort_by(f64::total_cmp);
    println!(
        "text search of every body ({hits} hit): first results after {first:.1} ms, a chunk of {} \
         every {:.1} ms (median; max {:.1} ms: a cancelled search stops within one), all in {total:.0} ms",
        hooktap::tui::effects::SEARCH_CHUNK,
        percentile(&chunks, 0.5),
        percentile(&chunks, 1.0),
    );
    println!(
        "memory: {:.0} MiB resident ({:.0} MiB before the inspector's state)",
        rss_mib(),
        rss_before
    );

    app.update(Action::FilterCancel);
    app.update(Action::Top);
    live(&store, &mut app, &mut terminal).await;
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn now_us() -> i64 {
    hooktap::exchange::unix_micros(std::time::SystemTime::now())
}

/// 1 000 records a second for TUI_LIVE_SECS, the inspector (already holding every
/// record above) following the store's commits as `listen` does: a batch per wake-up,
/// one frame per batch.
async fn live(store: &Store, app: &mut App, terminal: &mut Terminal<TestBackend>) {
    let secs: u64 = std::env::var("TUI_LIVE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let n = secs * 1_000;
    let mut commits = store.subscribe();
    let writer = store.clone();
    let producer = std::thread::spawn(move || {
        let start = Instant::now();
        for i in 0..n {
            let due = start + std::time::Duration::from_micros(i * 1_000);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut ex = exchange(i as usize);
            // When it was recorded: the latency runs from here to the frame.
            ex.received_at_us = now_us();
            writer.record(ex);
        }
    });
    let (mut latencies, mut frames) = (Vec::new(), Vec::new());
    let mut shown = 0;
    while shown < n {
        let first =
            match tokio::time::timeout(std::time::Duration::from_secs(5), commits.recv()).await {
                Ok(Ok(ex)) => ex,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(k))) => {
                    println!("live: the inspector lagged and missed {k} commits");
                    shown += k;
                    continue;
                }
                _ => break,
            };
        let frame = Instant::now();
        let mut rows = vec![Row::from_exchange(&first)];
        while let Ok(ex) = commits.try_recv() {
            rows.push(Row::from_exchange(&ex));
        }
        let recorded: Vec<i64> = rows.iter().map(|r| r.received_at_us).collect();
        shown += rows.len() as u64;
        app.update(Action::Committed(rows));
        draw(terminal, app);
        frames.push(frame.elapsed().as_secs_f64() * 1000.0);
        let drawn = now_us();
        latencies.extend(recorded.iter().map(|at| (drawn - at) as f64 / 1000.0));
    }
    producer.join().expect("the producer ends");
    latencies.sort_by(f64::total_cmp);
    frames.sort_by(f64::total_cmp);
    println!(
        "live, 1 000 records/s for {secs}s ({} on screen, {} frames): recorded → on screen \
         median {:.1} ms, p99 {:.1} ms, max {:.1} ms; frames median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        frames.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        percentile(&frames, 0.5),
        percentile(&frames, 0.99),
        percentile(&frames, 1.0),
    );
}
