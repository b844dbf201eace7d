//! Ctrl-C (SIGINT) or SIGTERM (systemd, Docker, `kill`) on `hooktap listen --relay`: a
//! request in flight through the tunnel finishes, reaches its sender and is recorded
//! before the process exits with 0.

use crate::common::gated;
use crate::common::tunnel as common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use gated::gated_app;
use hooktap::relay::{Auth, RelayConfig};
use tokio::io::AsyncBufReadExt;

async fn bounded<F: std::future::Future<Output = T>, T>(what: &str, fut: F) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

#[tokio::test]
async fn ctrl_c_waits_for_tunnelled_requests_in_flight_and_records_them() {
    stop_with_a_request_in_flight("-INT").await;
}

#[tokio::test]
async fn sigterm_waits_for_tunnelled_requests_in_flight_and_records_them() {
    stop_with_a_request_in_flight("-TERM").await;
}

/// Starts `listen --relay`, holds a tunnelled request in the app, sends `signal` (as
/// `kill` takes it), then lets the app answer.
async fn stop_with_a_request_in_flight(signal: &str) {
    let (app, gate, mut arrived) = gated_app().await;
    let relay = start_relay(
        "127.0.0.1:0",
        RelayConfig::new(Auth::new(&[], None, true).unwrap()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
        .arg("listen")
        .arg(app.port().to_string())
        .args([
            "--capture-addr",
            "127.0.0.1:0",
            "--api-addr",
            "off",
            "--json",
        ])
        .arg("--store")
        .arg(&store)
        .args(["--relay", &relay.url()])
        .env_remove("HOOKTAP_TOKEN")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = bounded("ready", lines.next_line()).await.unwrap().unwrap();
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    let public = ready["public_url"].as_str().unwrap().to_string();

    let client = client();
    let sent = tokio::spawn(async move {
        post(
            &client,
            &format!("{public}/late"),
            Bytes::from_static(b"in flight"),
        )
        .await
    });
    bounded("the app gets the request", arrived.recv()).await;

    let pid = child.id().unwrap().to_string();
    let interrupted = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(interrupted.success());
    // Give the old behaviour (exit without waiting for the tunnel) a moment to show,
    // then let the app answer; either way the exchange must be recorded.
    tokio::select! {
        _ = child.wait() => {}
        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
    }
    gate.send(true).unwrap();
    let (status, _, body) = bounded("the sender's answer", sent).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"in flight");
    let exit = bounded("listen exits", child.wait()).await.unwrap();
    assert!(exit.success(), "{signal}: {exit:?}");

    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
        .args(["requests", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/late"], "the tunnelled exchange is recorded");
    relay.stop().await;
}
