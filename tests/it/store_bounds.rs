//! The store's memory stays bounded: with `--store :memory:`, retention by bytes keeps a
//! stream of 1 MiB webhooks from growing the process without end, and every one of them
//! is still recorded (its event printed) before older ones make room.

use crate::common;

use bytes::Bytes;
use common::App;
use common::cli::Listen;
use http_body_util::Full;

const BODIES: usize = 150;

#[tokio::test]
async fn a_memory_store_keeps_its_bytes_bounded_and_records_every_request() {
    let app = App::start().await;
    let mut listen = Listen::start(
        &app.port().to_string(),
        std::path::Path::new(":memory:"),
        &["--json", "--retain-bytes", "16MiB"],
    )
    .await;
    let url = listen.capture_url();
    let client = common::client();
    let body = Bytes::from(vec![b'x'; 1 << 20]);
    for i in 0..BODIES {
        let req = http::Request::post(format!("{url}/big/{i}"))
            .body(Full::new(body.clone()))
            .unwrap();
        let status = common::within(client.request(req)).await.unwrap().status();
        assert!(status.is_success(), "request {i}: {status}");
    }
    let mut seen = 0;
    while seen < BODIES {
        let event = listen.next_event().await;
        if event["event"] == "request" {
            assert_eq!(
                event["path"],
                format!("/big/{seen}"),
                "in order, none missing"
            );
            seen += 1;
        }
    }
    // 150 MiB went through; the store keeps 16 MiB of it. Without retention by bytes the
    // in-memory database held every body (over 150 MiB resident).
    let peak_mib = listen.peak_rss_kib() / 1024;
    assert!(peak_mib < 100, "peak resident memory {peak_mib} MiB");
}
