//! Who holds a tunnel name: a newer agent with the same token takes it and the older one
//! is told and stops; a reconnect after a network drop keeps it; a name stays with its
//! first token, across restarts, until an operator releases it (also while the relay
//! runs, whose queue figures follow).

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use hooktap::relay::{Auth, RelayConfig};
use hooktap::tunnel::TunnelEvent;
use hooktap::tunnel::protocol::{RefusalReason, RelayRefusal};

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

fn data_relay(dir: &std::path::Path, tokens: &[&str], anonymous: bool) -> RelayConfig {
    let tokens: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    let mut config = RelayConfig::new(Auth::new(&tokens, None, anonymous).unwrap());
    config.data_dir = Some(dir.to_path_buf());
    config
}

fn refusal_of(result: Result<AgentHandle, hooktap::tunnel::ConnectError>) -> RelayRefusal {
    match result {
        Err(hooktap::tunnel::ConnectError::Refused(refusal)) => refusal,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the tunnel opened"),
    }
}

/// Runs `hooktap relay ARGS…` to the end; returns its exit code, stdout and stderr.
async fn relay_command(args: &[&str]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
        .arg("relay")
        .args(args)
        .output()
        .await
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

const FIRST: &str = "first-token-Rw7";
const SECOND: &str = "second-token-Tq2";

#[tokio::test]
async fn a_name_stays_with_its_first_token_across_a_relay_restart_until_released() {
    bounded(async {
        let mut app = start_app().await;
        let dir = tempfile::tempdir().unwrap();
        let store = memory_store();
        let relay = start_relay("127.0.0.1:0", data_relay(dir.path(), &[FIRST, SECOND], false)).await;
        let holder = start_agent(
            agent_config(&relay.url(), Some(FIRST), Some("owned")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        // The holder goes away with nothing queued, and the relay restarts.
        holder.stop().await;
        let addr = relay.addr.to_string();
        relay.stop().await;
        let relay = start_relay(&addr, data_relay(dir.path(), &[FIRST, SECOND], false)).await;

        let thief = start_agent(
            agent_config(&relay.url(), Some(SECOND), Some("owned")),
            forwarder(app.addr, &store),
        )
        .await;
        let refusal = refusal_of(thief);
        assert_eq!(refusal.reason, RefusalReason::NameTaken);
        assert_eq!(
            refusal.message,
            "the name 'owned' is held by another token: pick another --name"
        );

        // The operator sees who owns it (a fingerprint prefix, never the token)…
        let data_dir = dir.path().to_str().unwrap();
        let (code, listing, _) = relay_command(&["names", "--data-dir", data_dir]).await;
        assert_eq!(code, Some(0));
        let first_fingerprint = &sha256_hex(FIRST)[..12];
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 2, "{listing}");
        assert!(lines[0].starts_with("NAME"), "{listing}");
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row, ["owned", "token", first_fingerprint, "0"], "{listing}");
        assert!(!listing.contains(FIRST));

        // …and frees it, while the relay runs: the second token gets it now.
        let (code, said, _) = relay_command(&["release", "owned", "--data-dir", data_dir]).await;
        assert_eq!(code, Some(0));
        assert_eq!(
            said,
            format!(
                "hooktap: released 'owned' (it belonged to token {first_fingerprint}); the next token to ask for it gets it\n"
            )
        );
        let (code, _, error) = relay_command(&["release", "owned", "--data-dir", data_dir]).await;
        assert_eq!(code, Some(1));
        assert!(error.contains("never handed out 'owned'"), "{error}");
        let second = start_agent(
            agent_config(&relay.url(), Some(SECOND), Some("owned")),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        assert_eq!(second.tunnel.welcome.name, "owned");
        let client = client();
        let (status, _, _) = post(&client, &relay.http("/t/owned/new"), "x").await;
        assert_eq!(status, 200);
        assert_eq!(app.arrived.recv().await.unwrap(), "/new");
        // Now the first token is the one refused.
        let first = start_agent(
            agent_config(&relay.url(), Some(FIRST), Some("owned")),
            forwarder(app.addr, &store),
        )
        .await;
        assert_eq!(refusal_of(first).reason, RefusalReason::NameTaken);
        second.stop().await;
        relay.stop().await;
    })
    .await;
}

/// `/_hooktap/metrics` of `relay`.
async fn metrics(client: &HttpClient, relay: &RelayHandle) -> String {
    let response = client
        .get(relay.http("/_hooktap/metrics").parse().unwrap())
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn a_release_while_the_relay_runs_is_seen_in_its_queue_figures() {
    bounded(async {
        let app = start_app().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = data_relay(dir.path(), &[FIRST], false);
        // Room for three 4-byte requests over all names.
        config.limits.queue_max_total_bytes = 12;
        let relay = start_relay("127.0.0.1:0", config).await;
        let store = memory_store();
        for name in ["gone", "kept"] {
            let agent = start_agent(
                agent_config(&relay.url(), Some(FIRST), Some(name)),
                forwarder(app.addr, &store),
            )
            .await
            .unwrap();
            agent.stop().await;
        }
        let client = client();
        relay.until_online(0).await;
        for path in ["/t/gone/1", "/t/gone/2", "/t/kept/1"] {
            assert_eq!(post(&client, &relay.http(path), "abcd").await.0, 202);
        }
        assert_eq!(post(&client, &relay.http("/t/kept/2"), "abcd").await.0, 507);
        let text = metrics(&client, &relay).await;
        assert!(text.contains("hooktap_queue_depth 3\n"), "{text}");

        let data_dir = dir.path().to_str().unwrap();
        let (code, _, _) = relay_command(&["release", "gone", "--data-dir", data_dir]).await;
        assert_eq!(code, Some(0));
        // The running relay counts what is left, and has the room back.
        let text = metrics(&client, &relay).await;
        assert!(text.contains("hooktap_queue_depth 1\n"), "{text}");
        assert!(text.contains("hooktap_queue_bytes 4\n"), "{text}");
        let health = {
            let response = client
                .get(relay.http("/_hooktap/health").parse().unwrap())
                .await
                .unwrap();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()
        };
        assert_eq!(health["queue_depth"], 1);
        assert_eq!(post(&client, &relay.http("/t/kept/2"), "abcd").await.0, 202);
        assert!(
            metrics(&client, &relay)
                .await
                .contains("hooktap_queue_depth 2\n")
        );
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_token_cannot_take_an_anonymous_name() {
    bounded(async {
        let app = start_app().await;
        let dir = tempfile::tempdir().unwrap();
        let store = memory_store();
        let relay = start_relay("127.0.0.1:0", data_relay(dir.path(), &[FIRST], true)).await;
        let anonymous = start_agent(
            agent_config(&relay.url(), None, None),
            forwarder(app.addr, &store),
        )
        .await
        .unwrap();
        let name = anonymous.tunnel.welcome.name.clone();
        anonymous.stop().await;
        relay.until_online(0).await;

        let token = start_agent(
            agent_config(&relay.url(), Some(FIRST), Some(&name)),
            forwarder(app.addr, &store),
        )
        .await;
        let refusal = refusal_of(token);
        assert_eq!(refusal.reason, RefusalReason::NameTaken);
        assert_eq!(
            refusal.message,
            format!("the name '{name}' belongs to an anonymous tunnel: pick another --name")
        );
        let data_dir = dir.path().to_str().unwrap();
        let (_, listing, _) = relay_command(&["names", "--data-dir", data_dir]).await;
        let row = listing.lines().nth(1).unwrap_or_default().to_string();
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            [name.as_str(), "anonymous", "0"],
            "{listing}"
        );
        relay.stop().await;
    })
    .await;
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
