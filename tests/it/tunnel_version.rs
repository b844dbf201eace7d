//! An agent of tunnel protocol 1 (before queued deliveries were confirmed with the
//! `x-hooktap-committed` trailer) is refused with the fix, and the relay's queue for its
//! name is left untouched for an agent that confirms: nothing is redelivered to it and
//! dead-lettered.

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use hooktap::relay::queue::Queue;
use hooktap::relay::{Auth, RelayConfig};
use hooktap::tunnel::protocol::{PROTOCOL_VERSION, RefusalReason, RelayAnswer};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Sends `hello` as an agent with token `t1` would; the relay's answer.
async fn answer_to(relay: &RelayHandle, hello: serde_json::Value) -> RelayAnswer {
    let mut request = format!("{}/_hooktap/tunnel", relay.url())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer t1".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let answer = ws.next().await.unwrap().unwrap();
    serde_json::from_str(answer.to_text().unwrap()).unwrap()
}

#[tokio::test]
async fn a_version_1_agent_is_told_to_upgrade_and_its_queue_waits_for_one_that_confirms() {
    tokio::time::timeout(Duration::from_secs(60), async {
        assert_eq!(PROTOCOL_VERSION, 2);
        let dir = tempfile::tempdir().unwrap();
        let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
        config.data_dir = Some(dir.path().to_path_buf());
        let relay = start_relay("127.0.0.1:0", config).await;
        let mut app = start_app().await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("old")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        agent.stop().await;
        let client = client();
        relay.until_online(0).await;
        assert_eq!(post(&client, &relay.http("/t/old/hook"), "x").await.0, 202);

        // What hooktap 0.x with protocol 1 sends.
        let hello = serde_json::json!({"version": 1, "name": "old", "agent": "hooktap/0.1.0"});
        let RelayAnswer::Refusal(refusal) = answer_to(&relay, hello).await else {
            panic!("a version 1 agent is refused")
        };
        assert_eq!(refusal.reason, RefusalReason::VersionMismatch);
        assert_eq!(refusal.version, 2);
        assert_eq!(
            refusal.message,
            "this hooktap is older than the relay (tunnel protocol 1, the relay speaks 2): upgrade hooktap on this machine (the relay needs agents that confirm each queued request once recorded)"
        );
        assert_eq!(tunnels_online(&client, &relay).await, 0);
        let queue = Queue::open(Some(dir.path())).unwrap();
        let entries = queue.entries().await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].attempts, 0, "nothing was delivered to the old agent");

        // A current agent gets it.
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("old")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(agent.tunnel.welcome.queued, 1);
        assert_eq!(app.seen.recv().await.unwrap().uri, "/hook");
        agent.stop().await;
        relay.stop().await;
    })
    .await
    .expect("the test finishes in time");
}
