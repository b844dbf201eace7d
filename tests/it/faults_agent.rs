//! Faults: the agent (`hooktap listen --relay`) SIGKILLed mid-request and mid-redelivery of
//! the relay's queue. The sender of a request in flight gets a clear status; what was
//! answered 202 ends in the restarted agent's store exactly once and reaches the app at
//! least once (twice at most for the one entry in flight when the agent died:
//! docs/reliability.md); both SQLite files stay sound.

use crate::common::gated;
use crate::common::procs;
use crate::common::tunnel as common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
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
async fn an_agent_killed_mid_request_gives_the_sender_a_502_and_loses_nothing_acknowledged() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("agent.db");
        let relay = RelayProc::start(&dir.path().join("relay"), "127.0.0.1:0", &[]).await;
        let (app, gate, mut arrived) = gated::gated_app().await;
        let target = format!("http://{app}");
        let mut agent = AgentProc::start(&target, &relay.ws(), "killed", &store, &[]).await;
        let client = client();

        // The app holds the request; the agent dies with it in flight.
        let url = format!("{}/held", agent.public_url);
        let sender = {
            let client = client.clone();
            tokio::spawn(async move { post(&client, &url, "held").await })
        };
        within_wait(arrived.recv()).await.expect("the app got it");
        agent.kill().await;
        let (status, _, body) = within_wait(sender).await.unwrap();
        assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));

        // Once the relay saw the agent go, requests are queued (202) …
        relay.online(&client, 0).await;
        let (status, headers, _) =
            post(&client, &format!("{}/after", agent.public_url), "after").await;
        assert_eq!(status, 202);
        assert!(headers.contains_key("x-hooktap-queued"));

        // … and reach the restarted agent's store once.
        gate.send_replace(true);
        let mut agent = AgentProc::start(&target, &relay.ws(), "killed", &store, &[]).await;
        let record = agent.request().await;
        assert_eq!(
            (record["path"].as_str(), record["status"].as_u64()),
            (Some("/after"), Some(200))
        );
        relay.drained(&client).await;
        let after: Vec<_> = agent
            .records()
            .into_iter()
            .filter(|r| r.uri == "/after")
            .collect();
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(after[0].source, "queued");
        // The live tunnel works again.
        let (status, _, _) = post(&client, &format!("{}/live", agent.public_url), "x").await;
        assert_eq!(status, 200);
        agent.request().await;
        agent.kill().await;
        assert_sound(&store, &relay.db());
    })
    .await;
}

#[tokio::test]
async fn an_agent_killed_mid_redelivery_records_every_queued_request_exactly_once() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("agent.db");
        let relay = RelayProc::start(&dir.path().join("relay"), "127.0.0.1:0", &[]).await;
        let mut app = start_app().await;
        let target = format!("http://{}", app.addr);
        let client = client();

        // The relay learns the name; then the agent is away and requests queue up.
        let mut agent = AgentProc::start(&target, &relay.ws(), "redeliver", &store, &[]).await;
        let public_url = agent.public_url.clone();
        agent.kill().await;
        relay.online(&client, 0).await;
        for i in 0..QUEUED {
            let (status, _, _) = post(&client, &format!("{public_url}/q/{i}"), "x").await;
            assert_eq!(status, 202, "request {i}");
        }

        // The agent comes back and is killed part-way through the queue.
        let mut agent = AgentProc::start(&target, &relay.ws(), "redeliver", &store, &[]).await;
        for _ in 0..BEFORE_KILL {
            agent.request().await;
        }
        agent.kill().await;
        relay.online(&client, 0).await;
        let left = relay.health(&client).await["queue_depth"].as_u64().unwrap();
        assert!(
            (1..=(QUEUED - BEFORE_KILL + 1) as u64).contains(&left),
            "killed mid-redelivery (the last record committed may not be deleted yet): {left} of {QUEUED} left"
        );

        let mut agent = AgentProc::start(&target, &relay.ws(), "redeliver", &store, &[]).await;
        relay.drained(&client).await;
        agent.kill().await;

        // The store: each queued request exactly once, answered, with its own queued id.
        let records = records(&store);
        let mut per_path = BTreeMap::<String, usize>::new();
        for record in &records {
            assert_eq!(record.source, "queued", "{record:?}");
            assert_eq!(record.status, Some(200), "{record:?}");
            *per_path.entry(record.uri.clone()).or_default() += 1;
        }
        for i in 0..QUEUED {
            assert_eq!(per_path.get(&format!("/q/{i}")), Some(&1), "/q/{i} in {per_path:?}");
        }
        let mut ids: Vec<_> = records.iter().map(|r| r.queued_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), QUEUED, "one queued id per record");

        // The app: each at least once; only the one in flight at the kill may come twice.
        let mut seen = BTreeMap::<String, usize>::new();
        while let Ok(uri) = app.arrived.try_recv() {
            *seen.entry(uri).or_default() += 1;
        }
        for i in 0..QUEUED {
            assert!(seen.contains_key(&format!("/q/{i}")), "/q/{i} reached the app");
        }
        let total: usize = seen.values().sum();
        assert!(
            (QUEUED..=QUEUED + 1).contains(&total),
            "{total} deliveries to the app for {QUEUED} requests: {seen:?}"
        );
        assert_sound(&store, &relay.db());
    })
    .await;
}

/// Awaits `fut` for at most the suite's bound.
async fn within_wait<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("timed out waiting for an event")
}
