//! `hooktap demo` end to end, the real binary: headless, a line per event with the status
//! and verdict each should have, then exit 0 with nothing left running and no file left;
//! on a terminal (tmux), the inspector lists the events, `r` replays the failed one to the
//! now fixed app, and `q` quits and cleans up.

use crate::common;

use std::path::Path;
use std::process::Stdio;

use common::cli::BIN;
use common::tmux::Tmux;
use common::within;
use tokio::process::Command;

/// The files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        }
        found.push(path.display().to_string());
    }
    found
}

/// The word after `marker` in `text`.
fn word_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no '{marker}' in:\n{text}"));
    text[at + marker.len()..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
}

#[tokio::test]
async fn headless_demo_prints_each_verdict_and_leaves_nothing_behind() {
    // Its own temporary and home directories: whatever the demo writes shows up here.
    let tmp = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = within(
        Command::new(BIN)
            .args(["demo", "--no-tui"])
            .env("TMPDIR", tmp.path())
            .env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("HOOKTAP_STORE")
            .current_dir(home.path())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");

    // One log line per event, in the order sent: status, path and verdict each.
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" relay  POST "))
        .collect();
    let want = [
        ("/webhooks/github", "200", "sig:valid (github)"),
        ("/webhooks/stripe", "200", "sig:valid (stripe)"),
        ("/webhooks", "200", "sig:valid (standard-webhooks)"),
        ("/webhooks/github", "401", "sig:invalid (github)"),
        ("/webhooks/stripe", "400", "sig:expired (stripe)"),
        ("/webhooks/shopify", "500", "sig:valid (shopify)"),
    ];
    assert_eq!(lines.len(), want.len(), "{stdout}");
    for (line, (path, status, verdict)) in lines.iter().zip(want) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((words[3], words[4]), (path, status), "{line}");
        assert!(line.ends_with(verdict), "{line}");
    }
    // The receiver's reasons are shown, and no secret is.
    assert!(
        stdout.contains("the app answered 401 {\"error\":\"invalid signature\""),
        "{stdout}"
    );
    assert!(stdout.contains("past the 300s tolerance"), "{stdout}");
    assert!(stdout.contains("r on the 500 replays it"), "{stdout}");
    assert!(!stdout.contains("demo-only-github-secret"), "{stdout}");

    // Its directory was under TMPDIR and is gone; nothing else was written.
    let dir = word_after(&stdout, "files in ");
    assert!(dir.starts_with(&*tmp.path().to_string_lossy()), "{dir}");
    assert!(stdout.contains(&format!("removed {dir}")), "{stdout}");
    assert!(!Path::new(dir).exists(), "{dir} is still there");
    assert_eq!(files_under(tmp.path()), Vec::<String>::new());
    assert_eq!(files_under(home.path()), Vec::<String>::new());
    // Nothing is listening any more: the relay's port is closed.
    let relay = word_after(&stdout, "relay on http://");
    let refused = tokio::net::TcpStream::connect(relay.trim_end_matches(',')).await;
    assert!(refused.is_err(), "the relay at {relay} still answers");
}

#[tokio::test]
async fn the_demo_inspector_lists_the_events_replays_the_failed_one_and_quits() {
    let tmp = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("demo", 120, 30);
    tmux.wait_for("the shell", |s| s.contains("shell$")).await;
    tmux.keys(&[
        &format!("TMPDIR={} {BIN} demo", tmp.path().display()),
        "Enter",
    ]);
    let screen = tmux
        .wait_for("the events and what to try", |s| {
            s.contains("r on the 500 replays it") && s.contains("6 requests")
        })
        .await;
    for (path, status) in [
        ("/webhooks/shopify", "500"),
        ("/webhooks/stripe", "400"),
        ("/webhooks/github", "401"),
        ("/webhooks/github", "200"),
    ] {
        assert!(
            screen
                .lines()
                .any(|l| l.contains(path) && l.contains(&format!(" {status} "))),
            "no {status} on {path}:\n{screen}"
        );
    }
    assert!(screen.contains("● online"), "{screen}");
    assert!(
        !files_under(tmp.path()).is_empty(),
        "the store is in the demo's directory"
    );

    // The newest, selected, is the 500; the app is fixed now, so the replay succeeds.
    tmux.keys(&["r"]);
    let screen = tmux
        .wait_for("the replay", |s| {
            s.contains("replayed ") && s.contains("7 requests")
        })
        .await;
    assert!(screen.contains(": 200 in"), "{screen}");

    tmux.keys(&["q"]);
    // A second prompt: bash prints it once the process has exited, its cleanup done.
    tmux.wait_for("the shell back", |s| s.matches("shell$").count() >= 2)
        .await;
    assert_eq!(files_under(tmp.path()), Vec::<String>::new());
}
