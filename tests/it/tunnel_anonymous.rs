//! `--allow-anonymous` has limits: anonymous tunnels per address, handshakes per minute
//! per address, and anonymous names that expire when unused.

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use hooktap::relay::{Auth, RelayConfig};
use hooktap::tunnel::ConnectError;
use hooktap::tunnel::protocol::{RefusalReason, RelayAnswer};
use tokio_tungstenite::tungstenite::Message;

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

fn open_relay() -> RelayConfig {
    RelayConfig::new(Auth::new(&["t1".into()], None, true).unwrap())
}

#[tokio::test]
async fn one_address_gets_only_its_share_of_anonymous_tunnels() {
    bounded(async {
        let app = start_app().await;
        let mut config = open_relay();
        config.limits.max_tunnels_per_peer = 2;
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        let start = || start_agent(agent_config(&relay.url(), None, None), forwarder(app.addr, &store));
        let first = start().await.unwrap();
        let _second = start().await.unwrap();
        match start().await {
            Err(ConnectError::Refused(refusal)) => {
                assert_eq!(refusal.reason, RefusalReason::PeerLimit);
                assert_eq!(
                    refusal.message,
                    "this address already has 2 anonymous tunnels open on the relay: close one, or pass --token"
                );
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(_) => panic!("a third anonymous tunnel opened"),
        }
        // A token's tunnels do not count against it.
        let token = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("named")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        // Once one closes, the address may open another.
        first.stop().await;
        relay.until_online(2).await;
        let third = start().await.unwrap();
        third.stop().await;
        token.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn too_many_handshakes_from_one_address_get_a_sentence_the_agent_prints() {
    bounded(async {
        let app = start_app().await;
        let mut config = open_relay();
        config.limits.max_handshakes_per_minute = 1;
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        let first = start_agent(agent_config(&relay.url(), None, None), forwarder(app.addr, &store))
            .await
            .unwrap();
        let Err(err) =
            start_agent(agent_config(&relay.url(), None, None), forwarder(app.addr, &store)).await
        else {
            panic!("a second handshake within the minute opened a tunnel");
        };
        assert_eq!(
            err.to_string(),
            format!(
                "the relay at {}/_hooktap/tunnel refused the tunnel: this address opened more than 1 tunnel handshakes in the last minute; retry in a minute",
                relay.url()
            )
        );
        first.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_unused_anonymous_name_expires_and_its_key_no_longer_brings_it_back() {
    bounded(async {
        let app = start_app().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = open_relay();
        config.data_dir = Some(dir.path().to_path_buf());
        config.limits.anonymous_name_ttl = Duration::from_millis(300);
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        let agent = start_agent(agent_config(&relay.url(), None, None), forwarder(app.addr, &store))
            .await
            .unwrap();
        let name = agent.tunnel.welcome.name.clone();
        let key = agent.tunnel.welcome.resume_key.clone().unwrap();
        let client = client();
        // A live name does not expire, however long it is held.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (status, _, _) = post(&client, &relay.http(&format!("/t/{name}/x")), "a").await;
        assert_eq!(status, 200);
        agent.stop().await;
        // While it is unused, requests are queued; once expired, the name is unknown.
        let url = relay.http(&format!("/t/{name}/x"));
        eventually("the unused name expires", || async {
            post(&client, &url, "b").await.0 == 404
        })
        .await;
        let names = hooktap::relay::queue::Queue::open(Some(dir.path()))
            .unwrap()
            .names()
            .await
            .unwrap();
        assert!(names.iter().all(|entry| entry.name != name), "{names:?}");
        // The agent's old key gets a refusal that says why.
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{}/_hooktap/tunnel", relay.url()))
                .await
                .unwrap();
        let hello = serde_json::json!({"version": hooktap::tunnel::protocol::PROTOCOL_VERSION, "name": name, "resume_key": key});
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let answer: RelayAnswer =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        let RelayAnswer::Refusal(refusal) = answer else {
            panic!("an expired name came back");
        };
        assert_eq!(
            refusal.message,
            format!(
                "the anonymous name '{name}' was released after it went unused: start hooktap listen again for a new name"
            )
        );
        relay.stop().await;
    })
    .await;
}
