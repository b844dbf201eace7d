//! Who holds a tunnel name: a newer agent with the same token takes it and the older one
//! is told and stops; a reconnect after a network drop keeps it.

#[path = "common/tunnel.rs"]
mod common;

use std::time::Duration;

use common::*;
use hooktap::relay::{Auth, RelayConfig};
use hooktap::tunnel::TunnelEvent;

fn token_relay() -> RelayConfig {
    RelayConfig::new(Auth::new(&["t1".into(), "t2".into()], None, false).unwrap())
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

async fn next_event(agent: &mut AgentHandle, what: &str) -> Option<TunnelEvent> {
    tokio::time::timeout(Duration::from_secs(10), agent.tunnel.events.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn a_newer_agent_with_the_same_token_takes_the_name_and_the_older_stops() {
    bounded(async {
        let mut first_app = start_app().await;
        let mut second_app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let store = memory_store();
        let mut first = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("twin")),
            forwarder(first_app.addr, &store),
        )
        .await
        .unwrap();
        let mut second = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("twin")),
            forwarder(second_app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(second.tunnel.welcome.name, "twin");

        // The older agent is told why, in one sentence, and stops for good: its task
        // ends and no other event (no reconnect) follows.
        assert_eq!(
            next_event(&mut first, "the older agent to be told").await,
            Some(TunnelEvent::Replaced(
                "replaced by another agent with the same token".into()
            ))
        );
        tokio::time::timeout(Duration::from_secs(10), &mut first.tunnel.task)
            .await
            .expect("the older agent stops")
            .unwrap();
        assert_eq!(next_event(&mut first, "the end of the events").await, None);

        // The newer one keeps the name and gets all the traffic.
        let client = client();
        for i in 0..5 {
            let (status, _, body) =
                post(&client, &relay.http(&format!("/t/twin/n{i}")), "hi").await;
            assert_eq!((status.as_u16(), body.as_ref()), (200, b"hi".as_ref()));
            assert_eq!(second_app.arrived.recv().await.unwrap(), format!("/n{i}"));
        }
        assert!(
            first_app.arrived.try_recv().is_err(),
            "nothing reaches the older app"
        );
        assert_eq!(tunnels_online(&client, &relay).await, 1);
        assert!(
            second.tunnel.events.try_recv().is_err(),
            "the newer agent stays online"
        );
        second.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_reconnect_after_a_network_drop_replaces_the_stale_session_and_keeps_the_name() {
    bounded(async {
        let mut app = start_app().await;
        // The relay's heartbeat is slow: it still holds the dead session when the agent
        // (quick heartbeat) comes back, so the reconnect replaces it.
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let proxy = start_proxy(relay.addr).await;
        let store = memory_store();
        let mut agent = start_agent(
            agent_config(&format!("ws://{}", proxy.addr), Some("t1"), Some("roam")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        proxy.freeze.cancel();
        let online = loop {
            match next_event(&mut agent, "the agent to come back").await {
                Some(TunnelEvent::Offline { .. } | TunnelEvent::Reconnecting { .. }) => {}
                other => break other,
            }
        };
        match online {
            Some(TunnelEvent::Online { name, .. }) => assert_eq!(name, "roam"),
            other => panic!("expected online, got {other:?}"),
        }
        let client = client();
        let (status, _, _) = post(&client, &relay.http("/t/roam/back"), "x").await;
        assert_eq!(status, 200);
        assert_eq!(app.arrived.recv().await.unwrap(), "/back");
        assert_eq!(tunnels_online(&client, &relay).await, 1);
        assert!(
            agent.tunnel.events.try_recv().is_err(),
            "the agent that came back is not told it was replaced"
        );
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}
