//! The relay's offline queue: requests for an absent agent are kept (also across a relay
//! restart) and delivered in order when it comes back.

use crate::common::tunnel as common;

use std::time::{Duration, SystemTime};

use common::*;
use hooktap::exchange::{Source, unix_micros};
use hooktap::relay::{Auth, Limits, OfflineMode, RelayConfig};

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

fn relay_config(dir: &std::path::Path) -> RelayConfig {
    let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
    config.data_dir = Some(dir.to_path_buf());
    config
}

#[tokio::test]
async fn offline_requests_are_queued_and_delivered_in_order_after_a_relay_restart() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", relay_config(dir.path())).await;
        relay.known_then_offline(app.addr, "q").await;
        let client = client();

        let mut ids = Vec::new();
        for (i, body) in ["one", "two", "three"].iter().enumerate() {
            let (status, headers, text) =
                post(&client, &relay.http(&format!("/t/q/hook/{}", i + 1)), *body).await;
            assert_eq!(status, 202);
            assert!(String::from_utf8_lossy(&text).contains("queued"));
            ids.push(
                headers["x-hooktap-queued"]
                    .to_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap(),
            );
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let (status, _, _) = post(&client, &relay.http("/t/unknown/x"), "x").await;
        assert_eq!(status, 404, "only known names queue");

        // The relay restarts; the queue and the name survive.
        let addr = relay.addr.to_string();
        relay.stop().await;
        let relay = start_relay(&addr, relay_config(dir.path())).await;
        let (status, _, _) = post(&client, &relay.http("/t/q/hook/4"), "four").await;
        assert_eq!(status, 202);
        let before_reconnect = unix_micros(SystemTime::now());

        let store = memory_store();
        let mut records = store.subscribe();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("q")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(agent.tunnel.welcome.queued, 4);
        for (i, body) in ["one", "two", "three", "four"].iter().enumerate() {
            let seen = app.seen.recv().await.unwrap();
            assert_eq!(seen.uri, format!("/hook/{}", i + 1));
            assert_eq!(seen.body, body.as_bytes());
            let record = records.recv().await.unwrap();
            assert_eq!(record.source, Source::Queued);
            assert_eq!(record.request.uri, format!("/hook/{}", i + 1));
            assert_eq!(record.request.body.bytes, body.as_bytes());
            assert!(
                record.received_at_us < before_reconnect,
                "the original arrival time"
            );
            assert_eq!(
                record.public_url.as_deref(),
                Some(format!("http://{addr}/t/q/hook/{}", i + 1).as_str())
            );
            assert!(
                record
                    .request
                    .headers
                    .iter()
                    .all(|(k, _)| !k.starts_with("x-hooktap"))
            );
        }
        // Once the queue is delivered, traffic is live again.
        eventually("the relay finishes the delivery", || {
            let client = client.clone();
            let url = relay.http("/_hooktap/health");
            async move {
                let response = client.get(url.parse().unwrap()).await.unwrap();
                let body = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
                health["tunnels_draining"] == 0 && health["queue_depth"] == 0
            }
        })
        .await;
        let (status, _, body) = post(&client, &relay.http("/t/q/live"), "now").await;
        assert_eq!((status.as_u16(), body.as_ref()), (200, b"now".as_ref()));
        assert_eq!(records.recv().await.unwrap().source, Source::Relay);
        let response = client
            .get(relay.http("/_hooktap/metrics").parse().unwrap())
            .await
            .unwrap();
        let text = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(String::from_utf8_lossy(&text).contains("hooktap_queue_depth 0\n"));
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_queue_is_bounded_per_name_and_reject_mode_answers_503() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let app = start_app().await;
        let mut config = relay_config(dir.path());
        config.limits = Limits {
            queue_max_requests: 2,
            queue_max_bytes: 10,
            ..Limits::default()
        };
        let relay = start_relay("127.0.0.1:0", config).await;
        relay.known_then_offline(app.addr, "full").await;
        let client = client();
        let url = relay.http("/t/full/x");
        assert_eq!(post(&client, &url, "12345678").await.0, 202);
        let (status, _, body) = post(&client, &url, "123").await;
        assert_eq!(status, 507, "beyond the bytes bound");
        assert_eq!(
            body.as_ref(),
            b"hooktap: the offline queue for 'full' is full; retry once its agent is back\n"
        );
        assert_eq!(post(&client, &url, "1").await.0, 202);
        assert_eq!(
            post(&client, &url, "").await.0,
            507,
            "beyond the count bound"
        );
        relay.stop().await;

        let dir = tempfile::tempdir().unwrap();
        let mut config = relay_config(dir.path());
        config.offline = OfflineMode::Reject;
        let relay = start_relay("127.0.0.1:0", config).await;
        relay.known_then_offline(app.addr, "away").await;
        let (status, headers, _) = post(&client, &relay.http("/t/away/x"), "x").await;
        assert_eq!(status, 503);
        assert_eq!(headers["retry-after"], "30");
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_relay_wide_cap_on_queued_bytes_refuses_with_507_before_reading() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let app = start_app().await;
        let mut config = relay_config(dir.path());
        config.limits = Limits {
            queue_max_total_bytes: 10,
            ..Limits::default()
        };
        let relay = start_relay("127.0.0.1:0", config).await;
        relay.known_then_offline(app.addr, "a").await;
        relay.known_then_offline(app.addr, "b").await;
        let client = client();
        assert_eq!(
            post(&client, &relay.http("/t/a/x"), "12345678").await.0,
            202
        );
        let (status, _, body) = post(&client, &relay.http("/t/b/x"), "123").await;
        assert_eq!(status, 507, "beyond the relay-wide cap, whatever the name");
        assert_eq!(
            body.as_ref(),
            b"hooktap: the relay's offline queue is full (--queue-max-total-bytes); retry later\n"
        );
        // A body of unknown length is counted as it arrives.
        let chunks = futures_util::stream::iter([&b"12"[..], &b"345"[..]].map(|c| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes::Bytes::from_static(c)))
        }));
        let chunked = http_body_util::StreamBody::new(chunks);
        let request = http::Request::post(relay.http("/t/b/y"))
            .body(chunked)
            .unwrap();
        let raw = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
        let response = raw.request(request).await.unwrap();
        assert_eq!(response.status(), 507);
        assert_eq!(
            post(&client, &relay.http("/t/b/z"), "12").await.0,
            202,
            "room left"
        );
        relay.stop().await;
    })
    .await;
}
