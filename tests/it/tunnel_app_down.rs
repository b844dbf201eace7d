//! The app behind a tunnel down or slow: the public sender gets a generic sentence, the
//! agent's record keeps the detail (the app's local address and the cause).

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use hooktap::capture::Target;
use hooktap::capture::{ForwardConfig, Forwarder};
use hooktap::relay::{Auth, RelayConfig};

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

#[tokio::test]
async fn a_sender_through_the_relay_never_learns_the_apps_local_address() {
    bounded(async {
        // A port nothing listens on: the app is down.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let down = closed.local_addr().unwrap();
        drop(closed);
        let slow = start_app().await;
        let relay = start_relay(
            "127.0.0.1:0",
            RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap()),
        )
        .await;
        let store = memory_store();
        let mut records = store.subscribe();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("down")),
            forwarder(down, &store),
        )
        .await
        .unwrap();
        let impatient = Forwarder::new(
            ForwardConfig {
                target: Target::parse(&format!("http://{}", slow.addr)).unwrap(),
                timeout: Duration::from_millis(300),
                capture_limit: 1 << 20,
            },
            store.clone(),
        );
        let slow_agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("slow")),
            impatient,
        )
        .await
        .unwrap();
        let client = client();

        let (status, _, body) = post(&client, &relay.http("/t/down/hook"), "hi").await;
        assert_eq!(status, 502);
        assert_eq!(body.as_ref(), b"hooktap: the tunnel's app did not answer\n");
        let record = records.recv().await.unwrap();
        let error = record.error.clone().expect("the record says why");
        assert!(
            error.starts_with(&format!("could not reach the app at http://{down}")),
            "the record keeps the detail: {error}"
        );

        let (status, _, body) = post(&client, &relay.http("/t/slow/slow"), "hi").await;
        assert_eq!(status, 504);
        assert_eq!(
            body.as_ref(),
            b"hooktap: the tunnel's app did not answer within 300ms\n"
        );
        let record = records.recv().await.unwrap();
        assert_eq!(
            record.error.as_deref(),
            Some(
                format!(
                    "the app at http://{} did not answer within 300ms",
                    slow.addr
                )
                .as_str()
            )
        );
        agent.stop().await;
        slow_agent.stop().await;
        relay.stop().await;
    })
    .await;
}
