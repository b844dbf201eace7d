//! SIGTERM (systemd's and Docker's stop signal) and SIGINT on a real `hooktap relay`: it
//! closes its tunnels (the agent is told the relay is stopping, not cut off), exits with 0,
//! and a request it queued is still there for the next relay on the same data directory.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

const TOKEN: &str = "shutdown-token-Rt5pL2";
const NAME: &str = "stopme";

async fn bounded<F: std::future::Future<Output = T>, T>(what: &str, fut: F) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Every line `from` writes, as they come.
fn lines<R: AsyncRead + Unpin + Send + 'static>(from: R) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns it.
async fn line_with(rx: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> String {
    bounded(needle, async {
        loop {
            let line = rx.recv().await.expect("the process ended first");
            if line.contains(needle) {
                return line;
            }
        }
    })
    .await
}

fn hooktap(args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
        .args(args)
        .env("HOOKTAP_LOG", "info")
        .env_remove("HOOKTAP_RELAY")
        .env_remove("HOOKTAP_TOKEN")
        .env_remove("HOOKTAP_RELAY_TOKENS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// A relay on a kernel-picked port with its data in `data`: the process, its stdout and
/// stderr lines, and its address.
async fn relay(
    data: &std::path::Path,
) -> (
    tokio::process::Child,
    mpsc::UnboundedReceiver<String>,
    String,
) {
    let mut relay = hooktap(&[
        "relay",
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let mut stdout = lines(relay.stdout.take().unwrap());
    let stderr = lines(relay.stderr.take().unwrap());
    let serving = line_with(&mut stdout, "serving http://").await;
    let addr = serving
        .split("serving http://")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_string();
    (relay, stderr, addr)
}

fn kill(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

async fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let (relay, mut relay_log, addr) = relay(&data).await;

    // An agent with no app: the tunnel is what the relay must close properly.
    let mut agent = hooktap(&[
        "listen",
        "--token",
        TOKEN,
        "--name",
        NAME,
        "--json",
        "--capture-addr",
        "127.0.0.1:0",
        "--api-addr",
        "off",
        "--store",
        ":memory:",
        "--relay",
        &format!("ws://{addr}"),
    ]);
    let mut agent_out = lines(agent.stdout.take().unwrap());
    line_with(&mut agent_out, "\"event\":\"ready\"").await;
    line_with(&mut relay_log, "agent connected").await;

    kill(&relay, signal);
    let why = line_with(&mut relay_log, "agent disconnected").await;
    assert!(
        why.contains("the relay is stopping"),
        "{signal}: the relay closes the tunnel itself: {why}"
    );
    let mut relay = relay;
    let exit = bounded("the relay exits", relay.wait()).await.unwrap();
    assert!(exit.success(), "{signal}: {exit:?}");
    let offline = line_with(&mut agent_out, "\"state\":\"offline\"").await;
    assert!(offline.contains("reason"), "{offline}");

    // The agent away, a new relay on the same data directory queues for the name the
    // token holds; stopping that one with the same signal keeps the entry on disk.
    agent.kill().await.unwrap();
    let (relay, _log, addr) = self::relay(&data).await;
    let client = crate::common::tunnel::client();
    let (status, _, _) = crate::common::tunnel::post(
        &client,
        &format!("http://{addr}/t/{NAME}/later"),
        bytes::Bytes::from_static(b"{}"),
    )
    .await;
    assert_eq!(status, 202, "queued for the absent agent");
    kill(&relay, signal);
    let mut relay = relay;
    let exit = bounded("the second relay exits", relay.wait())
        .await
        .unwrap();
    assert!(exit.success(), "{signal}: {exit:?}");
    let queued = std::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
        .args(["relay", "queue", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&queued.stdout);
    assert!(
        text.contains(NAME) && text.contains("/later"),
        "the queued request is kept: {text}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_relay_cleanly() {
    stops_cleanly_on("-TERM").await;
}

#[tokio::test]
async fn sigint_stops_the_relay_cleanly() {
    stops_cleanly_on("-INT").await;
}
