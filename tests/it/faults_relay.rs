//! Faults: the relay SIGKILLed mid-request, and mid-redelivery then restarted with its
//! queue. The agent reconnects by itself; what was answered 202 is recorded once and
//! reaches the app once (the agent recognises a redelivered queued id); both SQLite files
//! stay sound.

use crate::common::gated;
use crate::common::procs;
use crate::common::tunnel as common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use procs::*;

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(180), test)
        .await
        .expect("the test finishes in time");
}

/// Queued requests in the redelivery test, and how many are recorded before the kill.
const QUEUED: usize = 40;
const BEFORE_KILL: usize = 10;

#[tokio::test]
async fn a_relay_killed_mid_request_drops_the_sender_and_the_agent_comes_back_by_itself() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let (store, data) = (dir.path().join("agent.db"), dir.path().join("relay"));
        let mut relay = RelayProc::start(&data, "127.0.0.1:0", &[]).await;
        let (app, gate, mut arrived) = gated::gated_app().await;
        let mut agent =
            AgentProc::start(&format!("http://{app}"), &relay.ws(), "rk", &store, &[]).await;
        let client = client();

        let url = format!("{}/held", agent.public_url);
        let sender = {
            let client = client.clone();
            tokio::spawn(async move {
                let request = http::Request::post(url)
                    .body(Full::new(Bytes::from_static(b"held")))
                    .unwrap();
                client.request(request).await.map(|r| r.status())
            })
        };
        tokio::time::timeout(Duration::from_secs(30), arrived.recv())
            .await
            .expect("the app gets the request in time");
        relay.kill().await;
        // No status at all: the connection is gone, so the sender knows to retry (a
        // 2xx would have promised the webhook was taken).
        let answer = sender.await.unwrap();
        assert!(answer.is_err(), "the sender got {answer:?}");
        agent.tunnel("offline").await;

        // The relay is back on its address and data: the agent reconnects on its own.
        let relay = RelayProc::start(&data, &relay.addr.to_string(), &[]).await;
        let online = agent.tunnel("online").await;
        assert_eq!(online["public_url"], agent.public_url.as_str());
        // The agent recorded the request the app held (its sender got no answer).
        gate.send_replace(true);
        let held = agent.request().await;
        assert_eq!(held["path"], "/held", "{held}");
        assert_eq!(
            held["error"], "the tunnel closed before the app answered",
            "the record says why it failed: {held}"
        );
        let (status, _, _) = post(&client, &format!("{}/after", agent.public_url), "x").await;
        assert_eq!(status, 200);
        agent.request().await;
        agent.kill().await;
        assert_sound(&store, &relay.db());
    })
    .await;
}

#[tokio::test]
async fn a_relay_killed_mid_redelivery_and_restarted_delivers_each_request_once() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let (store, data) = (dir.path().join("agent.db"), dir.path().join("relay"));
        let mut relay = RelayProc::start(&data, "127.0.0.1:0", &[]).await;
        let mut app = start_app().await;
        let target = format!("http://{}", app.addr);
        let client = client();

        let mut agent = AgentProc::start(&target, &relay.ws(), "rq", &store, &[]).await;
        let public_url = agent.public_url.clone();
        agent.kill().await;
        relay.online(&client, 0).await;
        for i in 0..QUEUED {
            let (status, _, _) = post(&client, &format!("{public_url}/q/{i}"), "x").await;
            assert_eq!(status, 202, "request {i}");
        }

        // The relay dies part-way through the delivery, and comes back with its queue.
        let mut agent = AgentProc::start(&target, &relay.ws(), "rq", &store, &[]).await;
        for _ in 0..BEFORE_KILL {
            agent.request().await;
        }
        relay.kill().await;
        let left = queued(&relay.db());
        assert!(
            (1..=(QUEUED - BEFORE_KILL + 1) as u64).contains(&left),
            "killed mid-redelivery (the last record committed may not be deleted yet): {left} of {QUEUED} left"
        );
        agent.tunnel("offline").await;
        let relay = RelayProc::start(&data, &relay.addr.to_string(), &[]).await;
        agent.tunnel("online").await;
        relay.drained(&client).await;
        agent.kill().await;

        // The store: each exactly once. The app: each exactly once too, since the agent
        // kept running and answers a redelivered id from its store.
        let mut per_path = BTreeMap::<String, usize>::new();
        for record in records(&store) {
            assert_eq!(
                (record.source.as_str(), record.status),
                ("queued", Some(200)),
                "{record:?}"
            );
            *per_path.entry(record.uri).or_default() += 1;
        }
        let mut seen = BTreeMap::<String, usize>::new();
        while let Ok(uri) = app.arrived.try_recv() {
            *seen.entry(uri).or_default() += 1;
        }
        for i in 0..QUEUED {
            let path = format!("/q/{i}");
            assert_eq!(per_path.get(&path), Some(&1), "{path} in the store: {per_path:?}");
            assert_eq!(seen.get(&path), Some(&1), "{path} at the app: {seen:?}");
        }
        assert_eq!(per_path.len(), QUEUED);
        assert_sound(&store, &relay.db());
    })
    .await;
}
