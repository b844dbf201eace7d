//! `hooktap listen` with no app: hooktap answers every request itself and records it, on
//! the local capture address and through the tunnel; replays of those records need --to.

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use hooktap::capture::Respond;
use hooktap::exchange::Source;
use hooktap::relay::{Auth, RelayConfig};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

const BIN: &str = env!("CARGO_BIN_EXE_hooktap");
const WAIT: Duration = Duration::from_secs(20);

/// A running `hooktap listen` with its stdout read line by line; killed on drop.
struct Listen {
    _child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Listen {
    fn spawn(store: &std::path::Path, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(BIN)
            .arg("listen")
            .args(args)
            .args(["--capture-addr", "127.0.0.1:0", "--api-addr", "off"])
            .arg("--store")
            .arg(store)
            .env_remove("HOOKTAP_RELAY")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        Self {
            _child: child,
            lines: tokio::io::BufReader::new(stdout).lines(),
        }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("a line before the end")
    }

    async fn event(&mut self) -> Value {
        serde_json::from_str(&self.line().await).unwrap()
    }
}

async fn run(args: &[&str]) -> std::process::Output {
    tokio::time::timeout(WAIT, tokio::process::Command::new(BIN).args(args).output())
        .await
        .expect("hooktap finishes in time")
        .unwrap()
}

#[tokio::test]
async fn with_no_target_hooktap_answers_200_and_records_the_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("h.db");
    let mut listen = Listen::spawn(&store, &["--json"]);
    let ready = listen.event().await;
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["target"], Value::Null);
    assert_eq!(ready["respond"], 200);
    let capture = format!("http://{}", ready["capture_addr"].as_str().unwrap());

    let (status, headers, body) = post(&client(), &format!("{capture}/hooks/in"), "hello").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["hooktap"], "no app: answering 200");

    let event = listen.event().await;
    assert_eq!(event["status"], 200, "{event}");
    let id = event["id"].as_str().unwrap().to_string();
    let store_arg = store.to_str().unwrap();
    let shown = run(&["show", &id, "--json", "--store", store_arg]).await;
    assert!(shown.status.success());
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["request"]["body"]["text"], "hello", "{shown}");
    assert_eq!(shown["response"]["status"], 200);
    assert_eq!(
        shown["response"]["body"]["text"],
        r#"{"ok":true,"hooktap":"no app: answering 200"}"#
    );
    let text = run(&["show", &id, "--store", store_arg]).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("none (no app: hooktap answered)"), "{text}");

    // A replay has nowhere to go without --to, and says so; with --to it is delivered.
    let refused = run(&["replay", &id, "--store", store_arg]).await;
    assert!(!refused.status.success());
    let told = String::from_utf8_lossy(&refused.stdout);
    assert!(
        told.contains("no target") && told.contains("--to"),
        "{told}"
    );
    let mut app = start_app().await;
    let to = format!("http://{}", app.addr);
    let replayed = run(&["replay", &id, "--to", &to, "--store", store_arg]).await;
    assert!(
        replayed.status.success(),
        "{}{}",
        String::from_utf8_lossy(&replayed.stdout),
        String::from_utf8_lossy(&replayed.stderr)
    );
    let seen = tokio::time::timeout(WAIT, app.seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.body, b"hello");
}

#[tokio::test]
async fn respond_sets_the_answer_and_the_log_line_says_no_app() {
    let dir = tempfile::tempdir().unwrap();
    let mut listen = Listen::spawn(
        &dir.path().join("h.db"),
        &["--no-tui", "--respond", "503:down"],
    );
    let first = listen.line().await;
    assert!(first.contains("no app: answering 503"), "{first}");
    let capture = first
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(',')
        .to_string();
    let (status, headers, body) = post(&client(), &format!("{capture}/x"), "").await;
    assert_eq!((status.as_u16(), &body[..]), (503, &b"down"[..]));
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let line = listen.line().await;
    assert!(line.contains("503"), "{line}");
}

#[tokio::test]
async fn respond_with_a_target_is_a_usage_error() {
    let out = run(&["listen", "5000", "--respond", "200", "--store", ":memory:"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--respond") && err.contains("TARGET"), "{err}");
    let bad = run(&["listen", "--respond", "ok", "--store", ":memory:"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("STATUS[:BODY]"));
}

#[tokio::test]
async fn through_the_tunnel_with_no_app_the_sender_gets_hooktaps_answer() {
    let relay = start_relay(
        "127.0.0.1:0",
        RelayConfig::new(Auth::new(&["t".into()], None, false).unwrap()),
    )
    .await;
    let store = memory_store();
    let mut events = store.subscribe();
    // The forwarder's own target is never used: every request is answered.
    let forwarder = forwarder("127.0.0.1:9".parse().unwrap(), &store).answering(Respond::default());
    let agent = start_agent(
        agent_config(&relay.url(), Some("t"), Some("noapp")),
        forwarder,
    )
    .await
    .unwrap();
    let (status, _, body) = post(&client(), &relay.http("/t/noapp/hook"), "via relay").await;
    assert_eq!(status, 200);
    assert_eq!(
        &body[..],
        br#"{"ok":true,"hooktap":"no app: answering 200"}"#
    );
    let ex = tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ex.source, Source::Relay);
    assert_eq!(ex.request.body.bytes, b"via relay");
    assert_eq!(ex.status(), Some(200));
    assert!(ex.answered_by_hooktap());
    assert!(ex.error.is_none(), "{:?}", ex.error);
    agent.stop().await;
}
