//! What the relay and the agent log, as the built binaries run: the relay says who comes
//! and goes, what it refuses and what it queues, at `info` by default; no level, `trace`
//! included, shows a token.

use crate::common::tunnel as common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

const TOKEN: &str = "relay-token-Zq8xW3";
const WRONG: &str = "wrong-token-Kp4vN7";
const SENDER_SECRET: &str = "sender-secret-Hy2mC9";

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(90), test)
        .await
        .expect("the test finishes in time");
}

/// A running hooktap binary: its stdout and stderr line by line, and all of stderr.
struct Proc {
    child: tokio::process::Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    all_stderr: Arc<Mutex<String>>,
}

fn pump<R: AsyncRead + Unpin + Send + 'static>(
    from: R,
    keep: Option<Arc<Mutex<String>>>,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(keep) = &keep {
                let mut all = keep.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
            let _ = tx.send(line);
        }
    });
    rx
}

impl Proc {
    fn spawn(args: &[&str], log: Option<&str>) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hooktap"));
        command
            .args(args)
            .env_remove("HOOKTAP_LOG")
            .env_remove("HOOKTAP_RELAY")
            .env_remove("HOOKTAP_TOKEN")
            .env_remove("HOOKTAP_RELAY_TOKENS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(log) = log {
            command.env("HOOKTAP_LOG", log);
        }
        let mut child = command.spawn().unwrap();
        let all_stderr = Arc::new(Mutex::new(String::new()));
        let stdout = pump(child.stdout.take().unwrap(), None);
        let stderr = pump(child.stderr.take().unwrap(), Some(all_stderr.clone()));
        Self {
            child,
            stdout,
            stderr,
            all_stderr,
        }
    }

    async fn stdout_line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.stdout.recv())
            .await
            .expect("a line in time")
            .expect("a line before the end")
    }

    /// The next stderr line containing every one of `parts`.
    async fn log_line(&mut self, parts: &[&str]) -> String {
        let wait = async {
            loop {
                let line = self
                    .stderr
                    .recv()
                    .await
                    .unwrap_or_else(|| panic!("stderr ended before a line with {parts:?}"));
                if parts.iter().all(|p| line.contains(p)) {
                    return line;
                }
            }
        };
        let all = self.all_stderr.clone();
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| {
                let text = all.lock().unwrap().clone();
                panic!("no log line with {parts:?} in:\n{text}")
            })
    }

    fn stderr_text(&self) -> String {
        self.all_stderr.lock().unwrap().clone()
    }
}

/// Starts the relay binary (with `extra` flags); returns it and its address.
async fn relay_with(dir: &std::path::Path, log: Option<&str>, extra: &[&str]) -> (Proc, String) {
    let dir = dir.to_str().unwrap();
    let mut args = vec![
        "relay",
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--data-dir",
        dir,
    ];
    args.extend_from_slice(extra);
    let mut relay = Proc::spawn(&args, log);
    let first = relay.stdout_line().await;
    let addr = first
        .strip_prefix("hooktap relay: serving http://")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    (relay, addr)
}

async fn relay(dir: &std::path::Path, log: Option<&str>) -> (Proc, String) {
    relay_with(dir, log, &[]).await
}

fn listen(app: &str, addr: &str, token: &str, log: Option<&str>) -> Proc {
    Proc::spawn(
        &[
            "listen",
            app,
            "--relay",
            &format!("ws://{addr}"),
            "--token",
            token,
            "--name",
            "logged",
            "--json",
            "--capture-addr",
            "127.0.0.1:0",
            "--store",
            ":memory:",
            "--api-addr",
            "off",
        ],
        log,
    )
}

#[tokio::test]
async fn the_relay_logs_agents_refusals_queueing_and_redelivery_at_info() {
    bounded(async {
        let app = start_app().await;
        let app_url = format!("http://{}", app.addr);
        let dir = tempfile::tempdir().unwrap();
        let (mut relay, addr) = relay(dir.path(), None).await;

        let mut agent = listen(&app_url, &addr, TOKEN, None);
        let ready = agent.stdout_line().await;
        assert!(ready.contains("\"ready\""), "{ready}");
        let connected = relay
            .log_line(&["INFO", "agent connected", "name=logged", "peer=127.0.0.1:"])
            .await;
        assert!(connected.contains("agent=\"hooktap/"), "{connected}");

        let refused = listen(&app_url, &addr, WRONG, None);
        let line = relay
            .log_line(&[
                "INFO",
                "tunnel refused",
                "reason=bad_token",
                "peer=127.0.0.1:",
            ])
            .await;
        assert!(
            line.contains("the relay does not accept this token"),
            "{line}"
        );
        let status = refused.child.wait_with_output().await.unwrap().status;
        assert_eq!(status.code(), Some(1));

        agent.child.kill().await.unwrap();
        relay
            .log_line(&[
                "INFO",
                "agent disconnected",
                "name=logged",
                "peer=127.0.0.1:",
            ])
            .await;

        let client = client();
        let (status, _, _) = post(&client, &format!("http://{addr}/t/logged/late"), "x").await;
        assert_eq!(status, 202);
        relay
            .log_line(&["INFO", "request queued", "name=logged", "id=", "bytes=1"])
            .await;

        let mut back = listen(&app_url, &addr, TOKEN, None);
        back.stdout_line().await;
        relay
            .log_line(&["INFO", "agent connected", "name=logged", "queued=1"])
            .await;
        relay
            .log_line(&["INFO", "queued request redelivered", "status=200"])
            .await;
        relay
            .log_line(&["INFO", "queue delivered", "delivered=1"])
            .await;

        back.child.kill().await.unwrap();
        relay.child.kill().await.unwrap();
        let text = relay.stderr_text();
        assert!(!text.contains(TOKEN) && !text.contains(WRONG), "{text}");
        assert!(
            text.lines()
                .all(|l| l.contains(" INFO ") || l.contains(" WARN ")),
            "nothing below info by default: {text}"
        );
    })
    .await;
}

#[tokio::test]
async fn no_log_level_shows_the_token() {
    bounded(async {
        let app = start_app().await;
        let app_url = format!("http://{}", app.addr);
        let dir = tempfile::tempdir().unwrap();
        // Asking for the WebSocket library's traces explicitly does not bring them back.
        let trace = "trace,tungstenite=trace,tokio_tungstenite=trace";
        let (mut relay, addr) = relay(dir.path(), Some(trace)).await;
        let mut agent = listen(&app_url, &addr, TOKEN, Some(trace));
        agent.stdout_line().await;
        relay.log_line(&["agent connected"]).await;

        // A sender's own secret header passes through both at trace, too.
        let client = client();
        let request = http::Request::post(format!("http://{addr}/t/logged/hook"))
            .header("authorization", format!("Bearer {SENDER_SECRET}"))
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"hi")))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        agent.stdout_line().await;

        let refused = listen(&app_url, &addr, WRONG, Some(trace));
        let refused = refused.child.wait_with_output().await.unwrap();
        assert_eq!(refused.status.code(), Some(1));
        relay
            .log_line(&["tunnel refused", "reason=bad_token"])
            .await;

        agent.child.kill().await.unwrap();
        relay.log_line(&["agent disconnected"]).await;
        relay.child.kill().await.unwrap();
        let relay_log = relay.stderr_text();
        let agent_log = agent.stderr_text();
        let refused_log = String::from_utf8_lossy(&refused.stderr).to_string();
        assert!(
            relay_log.lines().count() > 10 && agent_log.lines().count() > 10,
            "trace logging is on:\n{relay_log}\n{agent_log}"
        );
        for (who, log) in [
            ("relay", &relay_log),
            ("agent", &agent_log),
            ("refused agent", &refused_log),
        ] {
            for secret in [TOKEN, WRONG, SENDER_SECRET] {
                assert!(
                    !log.contains(secret),
                    "the {who}'s log shows {secret}:\n{log}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn relay_metrics_token_flag_keeps_metrics_private() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let (mut relay, addr) =
            relay_with(dir.path(), None, &["--metrics-token", "scrape-Vb5"]).await;
        let client = client();
        let get = |token: Option<&str>| {
            let mut request = http::Request::get(format!("http://{addr}/_hooktap/metrics"));
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let request = request
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            let client = client.clone();
            async move { client.request(request).await.unwrap().status() }
        };
        assert_eq!(get(None).await, 401);
        assert_eq!(get(Some("scrape-Vb5")).await, 200);
        relay.child.kill().await.unwrap();
        assert!(!relay.stderr_text().contains("scrape-Vb5"));
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .args(["relay", "--help"])
            .env("HOOKTAP_METRICS_TOKEN", "from-env-Lm3")
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        assert!(help.contains("--metrics-token <TOKEN>"), "{help}");
        assert!(!help.contains("from-env-Lm3"), "the env value is hidden");
    })
    .await;
}
