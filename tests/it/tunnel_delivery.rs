//! Delivery guarantees of the relay's offline queue: a slow sender holds nobody up, a
//! failed delivery is retried and then kept aside (never dropped, never a stuck tunnel),
//! an entry leaves the queue only once the agent committed its record, and an entry
//! delivered twice reaches the app once.

use crate::common::tunnel as common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use hooktap::exchange::Source;
use hooktap::relay::queue::Queue;
use hooktap::relay::{Auth, Limits, RelayConfig};
use hooktap::store::Store;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

fn relay_config(dir: &std::path::Path, limits: Limits) -> RelayConfig {
    let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
    config.data_dir = Some(dir.to_path_buf());
    config.limits = limits;
    config.heartbeat = Duration::from_millis(500);
    config
}

async fn health(client: &HttpClient, relay: &RelayHandle) -> serde_json::Value {
    let response = client
        .get(relay.http("/_hooktap/health").parse().unwrap())
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// Waits until the relay's queue is empty and no tunnel drains.
async fn delivered(client: &HttpClient, relay: &RelayHandle) {
    eventually("the relay finishes the delivery", || async {
        let health = health(client, relay).await;
        health["tunnels_draining"] == 0 && health["queue_depth"] == 0
    })
    .await;
}

/// A front for the app that can be switched off: while down, connections are closed at
/// once (the agent's forwarder cannot reach the app).
async fn switchable(app: SocketAddr) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let up = Arc::new(AtomicBool::new(false));
    let state = up.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !state.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(app).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, up)
}

/// The records in `store` for `uri`.
fn records(store: &Store, uri: &str) -> Vec<hooktap::exchange::Exchange> {
    store
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|s| s.path == uri)
        .map(|s| store.get(&s.id).unwrap())
        .collect()
}

#[tokio::test]
async fn a_slow_sender_does_not_hold_up_a_draining_tunnel() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", relay_config(dir.path(), Limits::default())).await;
        relay.known_then_offline(start_app().await.addr, "d").await;
        let client = client();
        // The app takes two seconds over the first queued request: the tunnel drains
        // meanwhile.
        assert_eq!(
            post(&client, &relay.http("/t/d/slow"), "first").await.0,
            202
        );
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("d")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(agent.tunnel.welcome.queued, 1);
        assert_eq!(app.arrived.recv().await.unwrap(), "/slow");
        // A sender announces 100 bytes and sends 10, then nothing.
        let mut trickle = TcpStream::connect(relay.addr).await.unwrap();
        trickle
            .write_all(
                b"POST /t/d/trickle HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789",
            )
            .await
            .unwrap();
        let (status, _, _) = post(&client, &relay.http("/t/d/after"), "second").await;
        assert_eq!(status, 202, "queued behind the draining entries");
        assert_eq!(app.seen.recv().await.unwrap().uri, "/slow");
        assert_eq!(app.seen.recv().await.unwrap().uri, "/after");
        // The trickling sender is still there, and the tunnel goes live all the same.
        delivered(&client, &relay).await;
        let (status, _, body) = post(&client, &relay.http("/t/d/live"), "now").await;
        assert_eq!((status.as_u16(), body.as_ref()), (200, b"now".as_ref()));
        drop(trickle);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried_in_order_and_the_tunnel_then_goes_live() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_app().await;
        let (front, up) = switchable(app.addr).await;
        let limits = Limits {
            queue_retry_min: Duration::from_millis(100),
            queue_retry_max: Duration::from_millis(400),
            ..Limits::default()
        };
        let relay = start_relay("127.0.0.1:0", relay_config(dir.path(), limits)).await;
        relay.known_then_offline(start_app().await.addr, "r").await;
        let client = client();
        for path in ["/t/r/one", "/t/r/two"] {
            assert_eq!(post(&client, &relay.http(path), "x").await.0, 202);
        }
        // The agent is back but its app is down: the first entry fails and waits.
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("r")),
            forwarder(front, &store),
        )
        .await
        .unwrap();
        let queue = Queue::open(Some(dir.path())).unwrap();
        eventually("a failed attempt is counted", || async {
            let entries = queue.entries().await.unwrap();
            entries.first().is_some_and(|e| e.attempts >= 1 && !e.dead)
        })
        .await;
        // A request meanwhile queues behind them: arrival order is kept.
        assert_eq!(post(&client, &relay.http("/t/r/three"), "x").await.0, 202);
        up.store(true, Ordering::SeqCst);
        for uri in ["/one", "/two", "/three"] {
            assert_eq!(app.seen.recv().await.unwrap().uri, uri);
        }
        delivered(&client, &relay).await;
        let (status, _, _) = post(&client, &relay.http("/t/r/live"), "now").await;
        assert_eq!(status, 200, "the tunnel takes live traffic again");
        for uri in ["/one", "/two", "/three"] {
            let delivered: Vec<_> = records(&store, uri)
                .into_iter()
                .filter(|r| r.response.is_some())
                .collect();
            assert_eq!(delivered.len(), 1, "{uri} recorded once as answered");
            assert_eq!(delivered[0].source, Source::Queued);
        }
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_kept_aside_and_listed() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_app().await;
        let (front, up) = switchable(app.addr).await;
        let limits = Limits {
            queue_attempts: 2,
            queue_retry_min: Duration::from_millis(50),
            queue_retry_max: Duration::from_millis(50),
            ..Limits::default()
        };
        let relay = start_relay("127.0.0.1:0", relay_config(dir.path(), limits)).await;
        relay.known_then_offline(start_app().await.addr, "k").await;
        let client = client();
        assert_eq!(post(&client, &relay.http("/t/k/poison"), "p").await.0, 202);
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("k")),
            forwarder(front, &store),
        )
        .await
        .unwrap();
        eventually(
            "the entry is kept aside and the tunnel goes live",
            || async {
                let health = health(&client, &relay).await;
                health["queue_dead_letters"] == 1 && health["tunnels_draining"] == 0
            },
        )
        .await;
        up.store(true, Ordering::SeqCst);
        let (status, _, _) = post(&client, &relay.http("/t/k/live"), "now").await;
        assert_eq!(status, 200);
        assert_eq!(app.seen.recv().await.unwrap().uri, "/live");
        let response = client
            .get(relay.http("/_hooktap/metrics").parse().unwrap())
            .await
            .unwrap();
        let text = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&text).into_owned();
        assert!(text.contains("hooktap_queue_dead_letters 1\n"), "{text}");
        assert!(
            text.contains("hooktap_queue_depth 1\n"),
            "kept, not dropped"
        );
        let listed = std::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .args(["relay", "queue", "--data-dir", dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(listed.status.success());
        let listed = String::from_utf8(listed.stdout).unwrap();
        let line = listed
            .lines()
            .find(|l| l.contains("/poison"))
            .unwrap_or_else(|| panic!("the dead letter is listed: {listed}"));
        assert!(
            line.contains(" k ") && line.contains("DEAD") && line.contains("POST"),
            "{line}"
        );
        assert!(listed.contains("last error:"), "{listed}");
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_tunnel_cut_before_the_record_is_committed_redelivers_and_records_once() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", relay_config(dir.path(), Limits::default())).await;
        relay.known_then_offline(start_app().await.addr, "c").await;
        let client = client();
        assert_eq!(post(&client, &relay.http("/t/c/slow"), "once").await.0, 202);
        // The agent reaches the relay through a proxy that can freeze the tunnel.
        let proxy = start_proxy(relay.addr).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&format!("ws://{}", proxy.addr), Some("t1"), Some("c")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        // The app has the request (and answers two seconds later): the tunnel dies now,
        // before the agent could commit and say so.
        assert_eq!(app.arrived.recv().await.unwrap(), "/slow");
        proxy.freeze.cancel();
        // The relay kept the entry; the agent reconnects and it is delivered again.
        delivered(&client, &relay).await;
        let answered: Vec<_> = records(&store, "/slow")
            .into_iter()
            .filter(|r| r.response.is_some())
            .collect();
        assert_eq!(answered.len(), 1, "recorded once as answered");
        assert_eq!(answered[0].request.body.bytes, b"once");
        assert_eq!(app.seen.recv().await.unwrap().uri, "/slow");
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_entry_delivered_again_after_a_relay_crash_reaches_the_app_once() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_app().await;
        let relay = start_relay("127.0.0.1:0", relay_config(dir.path(), Limits::default())).await;
        relay
            .known_then_offline(start_app().await.addr, "twice")
            .await;
        let client = client();
        assert_eq!(
            post(&client, &relay.http("/t/twice/hook"), "1").await.0,
            202
        );
        let addr = relay.addr.to_string();
        relay.stop().await;
        // The queue as it was before the delivery: what a relay killed after the agent's
        // commit but before its delete finds on restart.
        let crashed = tempfile::tempdir().unwrap();
        for file in ["relay.db", "relay.db-wal"] {
            if dir.path().join(file).exists() {
                std::fs::copy(dir.path().join(file), crashed.path().join(file)).unwrap();
            }
        }
        let relay = start_relay(&addr, relay_config(dir.path(), Limits::default())).await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("twice")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(app.seen.recv().await.unwrap().uri, "/hook");
        delivered(&client, &relay).await;
        agent.stop().await;
        relay.stop().await;

        let relay = start_relay(&addr, relay_config(crashed.path(), Limits::default())).await;
        let agent = start_agent(
            agent_config(&relay.url(), Some("t1"), Some("twice")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(
            agent.tunnel.welcome.queued, 1,
            "the relay delivers it again"
        );
        delivered(&client, &relay).await;
        // The agent answered from its store: the app saw it once, the store holds it once.
        let (status, _, _) = post(&client, &relay.http("/t/twice/next"), "2").await;
        assert_eq!(status, 200);
        assert_eq!(
            app.seen.recv().await.unwrap().uri,
            "/next",
            "not /hook again"
        );
        assert_eq!(records(&store, "/hook").len(), 1);
        agent.stop().await;
        relay.stop().await;
    })
    .await;
}
