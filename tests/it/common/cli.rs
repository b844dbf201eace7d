//! Helpers for driving the real `hooktap` binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::within;

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_hooktap");

/// Runs `hooktap args…` to completion.
pub async fn run(args: &[&str]) -> Output {
    within(
        Command::new(BIN)
            .args(args)
            .env_remove("HOOKTAP_STORE")
            .output(),
    )
    .await
    .expect("could not run hooktap")
}

/// stdout of a successful run, parsed as JSON.
pub async fn run_json(args: &[&str]) -> Value {
    let out = run(args).await;
    assert!(
        out.status.success(),
        "hooktap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A running `hooktap listen`, killed on drop.
pub struct Listen {
    pub child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// The first line it printed.
    pub first_line: String,
}

impl Listen {
    /// Starts `hooktap listen <target> --capture-addr 127.0.0.1:0 --store <store> extra…` and
    /// waits for its first line.
    pub async fn start(target: &str, store: &Path, extra: &[&str]) -> Self {
        Self::start_for(Some(target), store, extra).await
    }

    /// [`Listen::start`] with no TARGET: hooktap answers every request itself.
    pub async fn without_app(store: &Path, extra: &[&str]) -> Self {
        Self::start_for(None, store, extra).await
    }

    async fn start_for(target: Option<&str>, store: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("listen")
            .args(target)
            .args(["--capture-addr", "127.0.0.1:0", "--store"])
            .arg(store)
            .args(with_api_off(extra))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("could not start hooktap listen");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first_line = within(lines.next_line())
            .await
            .unwrap()
            .expect("listen printed nothing");
        Self {
            child,
            lines,
            first_line,
        }
    }

    /// The next line printed.
    pub async fn next_line(&mut self) -> String {
        within(self.lines.next_line())
            .await
            .unwrap()
            .expect("listen stopped printing")
    }

    /// The next line, parsed as a JSON event.
    pub async fn next_event(&mut self) -> Value {
        let line = self.next_line().await;
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }

    /// The capture address from a `--json` ready event.
    pub fn capture_url(&self) -> String {
        let ready: Value = serde_json::from_str(&self.first_line).expect("ready event");
        format!(
            "http://{}",
            ready["capture_addr"].as_str().expect("capture_addr")
        )
    }

    /// The capture address from a `--no-tui` first line (`hooktap: capturing on URL, …`).
    pub fn capture_url_from_line(&self) -> String {
        self.first_line
            .split_whitespace()
            .nth(3)
            .expect("a capture address in the first line")
            .trim_end_matches(',')
            .to_string()
    }

    /// Peak resident memory in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }
}

/// `extra`, with `--api-addr off` unless it names an API address: tests run in parallel and
/// must not race for the default API port.
fn with_api_off<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = extra.to_vec();
    if !extra.contains(&"--api-addr") {
        args.extend(["--api-addr", "off"]);
    }
    args
}
