//! The offline queue holds many large bodies at once without holding them in memory:
//! bodies stream to disk and back, and the relay's peak memory stays flat while they are
//! queued and while they are delivered, intact. Runs the relay binary to measure its
//! memory alone.

use crate::common::tunnel as common;

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};

const SENDERS: usize = 12;
const BODY: usize = 16 << 20;

fn body(k: usize) -> Bytes {
    (0..BODY)
        .map(|i| (i.wrapping_mul(31) ^ k.wrapping_mul(131) ^ (i >> 12)) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test]
async fn many_large_bodies_for_an_offline_name_keep_the_relay_small_and_arrive_intact() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let dir = tempfile::tempdir().unwrap();
        let mut relay = tokio::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .args(["relay", "--listen", "127.0.0.1:0", "--token", "t1"])
            .args(["--queue-max-bytes", "1GiB", "--data-dir"])
            .arg(dir.path())
            .env_remove("HOOKTAP_LOG")
            .env_remove("HOOKTAP_RELAY_TOKENS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = relay.id().unwrap();
        let mut stdout = BufReader::new(relay.stdout.take().unwrap()).lines();
        let banner = stdout.next_line().await.unwrap().unwrap();
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("the relay's address in {banner:?}"))
            .to_string();
        let (ws, http) = (format!("ws://{addr}"), format!("http://{addr}"));

        // The relay learns the name, then its agent goes away.
        let mut app = start_app().await;
        let store = memory_store();
        let agent = start_agent(
            agent_config(&ws, Some("t1"), Some("big")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        agent.stop().await;
        let client = client();
        let health = || {
            let client = client.clone();
            let url = format!("{http}/_hooktap/health");
            async move {
                let response = client.get(url.parse().unwrap()).await.unwrap();
                let body = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                serde_json::from_slice::<serde_json::Value>(&body).unwrap()
            }
        };
        eventually("the relay sees the agent leave", || async {
            health().await["tunnels_online"] == 0
        })
        .await;

        let before = peak_rss(pid);
        let bodies: Vec<Bytes> = (0..SENDERS).map(body).collect();
        let sends = bodies.iter().enumerate().map(|(k, b)| {
            let (client, url, b) = (client.clone(), format!("{http}/t/big/{k}"), b.clone());
            tokio::spawn(async move { post(&client, &url, b).await.0 })
        });
        for send in futures_util::future::join_all(sends).await {
            assert_eq!(send.unwrap(), 202);
        }
        let grown = peak_rss(pid).saturating_sub(before);
        println!(
            "relay peak memory: {} MiB before, +{} MiB queueing",
            before >> 20,
            grown >> 20
        );
        // Held in memory, the bodies alone would be 192 MiB.
        assert!(
            grown < 64 << 20,
            "the relay's peak memory grew by {} MiB for {SENDERS} bodies of {} MiB",
            grown >> 20,
            BODY >> 20
        );

        let agent = start_agent(
            agent_config(&ws, Some("t1"), Some("big")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(agent.tunnel.welcome.queued, SENDERS as u64);
        // Concurrent senders: the queue's order is the order their bodies were complete.
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..SENDERS {
            let one = app.seen.recv().await.unwrap();
            seen.insert(one.uri.clone(), one);
        }
        for (k, expected) in bodies.iter().enumerate() {
            let one = &seen[&format!("/{k}")];
            assert_eq!(one.len, BODY as u64);
            assert!(
                one.body[..] == expected[..one.body.len()],
                "body {k} intact"
            );
        }
        eventually("the queue is delivered", || async {
            let health = health().await;
            health["queue_depth"] == 0 && health["tunnels_draining"] == 0
        })
        .await;
        // Delivery streams each body from the database in pieces.
        let grown = peak_rss(pid).saturating_sub(before);
        println!("relay peak memory after delivery: +{} MiB", grown >> 20);
        assert!(
            grown < 64 << 20,
            "delivering grew the relay's peak memory by {} MiB",
            grown >> 20
        );
        agent.stop().await;
        relay.kill().await.unwrap();
    })
    .await
    .expect("the test finishes in time");
}
