//! Faults: the link between the agent and the relay stalls (a proxy in the test stops
//! forwarding bytes without closing anything). The agent notices by its heartbeats and
//! dials again; the sender of a request caught in the stall gets a clear status; both
//! SQLite files stay sound.

use crate::common::procs;
use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use procs::*;

#[tokio::test]
async fn a_stalled_link_is_detected_by_heartbeats_and_the_agent_dials_again() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("agent.db");
        let relay = RelayProc::start(&dir.path().join("relay"), "127.0.0.1:0", &[]).await;
        let app = start_app().await;
        // The agent reaches the relay through the proxy; connections made after the
        // freeze pass again (the proxy "replaced").
        let proxy = start_proxy(relay.addr).await;
        let via_proxy = format!("ws://{}", proxy.addr);
        let target = format!("http://{}", app.addr);
        let mut agent = AgentProc::start(&target, &via_proxy, "stall", &store, &[]).await;
        // Senders reach the relay directly (the public URL names the proxy's address).
        let client = client();
        let (status, _, _) = post(&client, &relay.http("/t/stall/before"), "a").await;
        assert_eq!(status, 200);
        agent.request().await;

        proxy.freeze.cancel();
        // Caught in the stall: the relay's heartbeat gives up on the tunnel (502), or the
        // relay already let it go and queued the request (202).
        let (stalled, _, body) = post(&client, &relay.http("/t/stall/stalled"), "b").await;
        assert!(
            stalled == 502 || stalled == 202,
            "{stalled}: {}",
            String::from_utf8_lossy(&body)
        );
        let offline = agent.tunnel("offline").await;
        assert!(
            offline["reason"]
                .as_str()
                .unwrap_or("")
                .contains("heartbeat"),
            "the agent's own heartbeat noticed: {offline}"
        );
        agent.tunnel("online").await;
        relay.drained(&client).await;
        let (status, _, _) = post(&client, &relay.http("/t/stall/after"), "c").await;
        assert_eq!(status, 200);
        agent
            .event("the record of /after", |e| {
                e["event"] == "request" && e["path"] == "/after"
            })
            .await;
        agent.kill().await;
        let stored: Vec<_> = records(&store).into_iter().map(|r| r.uri).collect();
        if stalled == 202 {
            assert!(stored.contains(&"/stalled".to_string()), "{stored:?}");
        }
        assert_eq!(
            stored.iter().filter(|p| *p == "/after").count(),
            1,
            "{stored:?}"
        );
        assert_sound(&store, &relay.db());
    })
    .await
    .expect("the test finishes in time");
}
