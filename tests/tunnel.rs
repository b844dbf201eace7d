//! End to end through the tunnel: a real relay, agent and app on 127.0.0.1:0.

#[path = "common/tunnel.rs"]
mod common;

use std::time::Duration;

use common::*;
use hooktap::exchange::Source;
use hooktap::relay::{Auth, RelayConfig};

fn token_relay() -> RelayConfig {
    RelayConfig::new(Auth::new(&["t1".into(), "t2".into()], None, false).unwrap())
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

#[tokio::test]
async fn a_post_reaches_the_app_byte_identical_and_is_recorded() {
    bounded(async {
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let store = memory_store();
        let mut records = store.subscribe();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("demo")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let welcome = &agent.tunnel.welcome;
        assert_eq!(welcome.name, "demo");
        let public = format!("http://{}/t/demo", relay.addr);
        assert_eq!(welcome.public_urls, vec![public.clone()]);

        let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let client = client();
        let (status, headers, echoed) =
            post(&client, &format!("{public}/hook?x=1"), body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-app"], "echo");
        assert_eq!(
            echoed.as_ref(),
            body.as_slice(),
            "the app's answer comes back whole"
        );

        let seen = app.seen.recv().await.unwrap();
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.uri, "/hook?x=1");
        assert_eq!(seen.body, body, "the app gets the bytes exactly");
        assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(seen.headers["x-forwarded-proto"], "http");
        assert_eq!(seen.headers["x-forwarded-host"], relay.addr.to_string());
        assert!(
            !seen
                .headers
                .keys()
                .any(|k| k.as_str().starts_with("x-hooktap")),
            "internal headers stay inside the tunnel: {:?}",
            seen.headers
        );

        let record = records.recv().await.unwrap();
        assert_eq!(record.source, Source::Relay);
        assert_eq!(
            record.public_url.as_deref(),
            Some(format!("{public}/hook?x=1").as_str())
        );
        assert_eq!(record.request.uri, "/hook?x=1");
        assert_eq!(record.request.version, "HTTP/1.1");
        assert_eq!(record.request.body.bytes, body);
        assert_eq!(record.status(), Some(200));
        assert!(
            record
                .request
                .headers
                .iter()
                .all(|(k, _)| !k.starts_with("x-hooktap"))
        );
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}
