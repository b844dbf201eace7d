//! The fault suites' processes: the relay and the agent (`hooktap listen --relay`) as
//! children of the built binary, so a test can SIGKILL either; their output read line by
//! line; their SQLite files read and checked. Every wait is on an event and bounded.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::common::tunnel::HttpClient;

/// How long one event (a line, a state) may take to come.
const EVENT_WAIT: Duration = Duration::from_secs(30);

/// The token every relay and agent here uses.
pub const TOKEN: &str = "fault-token";

fn hooktap() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hooktap"));
    command
        .env_remove("HOOKTAP_LOG")
        .env_remove("HOOKTAP_RELAY")
        .env_remove("HOOKTAP_TOKEN")
        .env_remove("HOOKTAP_RELAY_TOKENS")
        .env_remove("HOOKTAP_STORE")
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("FAULTS_STDERR").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true);
    // FAULTS_STDERR=1 (and FAULTS_LOG=debug) show what the processes log, to debug a case.
    if let Some(level) = std::env::var_os("FAULTS_LOG") {
        command.env("HOOKTAP_LOG", level);
    }
    command
}

/// A relay process with its queue under `dir`.
pub struct RelayProc {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl RelayProc {
    /// Starts `hooktap relay` on `listen` (`127.0.0.1:0`, or the address of a relay that
    /// died, to restart it) with a quick heartbeat, and waits for its banner.
    pub async fn start(dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let mut child = hooktap()
            .args(["relay", "--listen", listen, "--token", TOKEN])
            .args(["--heartbeat", "500ms", "--data-dir"])
            .arg(dir)
            .args(extra)
            .spawn()
            .expect("the relay starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let banner = tokio::time::timeout(EVENT_WAIT, lines.next_line())
            .await
            .expect("the relay's banner in time")
            .unwrap()
            .expect("a banner");
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("the relay's address in {banner:?}"));
        Self {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    pub fn ws(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("the relay is killed");
    }

    /// `/_hooktap/health`.
    pub async fn health(&self, client: &HttpClient) -> Value {
        json_get(client, &self.http("/_hooktap/health")).await
    }

    /// Waits until the queue is empty and no tunnel is draining.
    pub async fn drained(&self, client: &HttpClient) {
        eventually_long("the relay to deliver its queue", || async {
            let health = self.health(client).await;
            health["queue_depth"] == 0 && health["tunnels_draining"] == 0
        })
        .await;
    }

    /// Waits until `n` tunnels are online.
    pub async fn online(&self, client: &HttpClient, n: u64) {
        eventually_long("the tunnels to be online", || async {
            self.health(client).await["tunnels_online"] == n
        })
        .await;
    }

    /// The queue database.
    pub fn db(&self) -> PathBuf {
        self.dir.join("relay.db")
    }
}

async fn json_get(client: &HttpClient, url: &str) -> Value {
    let response = client.get(url.parse().unwrap()).await.unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&body).unwrap()
}

/// Waits until `check` holds, polling every 20 ms, for at most the suite's bound (states
/// that follow a heartbeat or a retry on a loaded machine).
pub async fn eventually_long<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An agent process: `hooktap listen TARGET --relay … --json --store STORE`.
pub struct AgentProc {
    child: Child,
    events: mpsc::UnboundedReceiver<Value>,
    /// Events read while waiting for another, oldest first.
    skipped: Vec<Value>,
    pub public_url: String,
    pub store: PathBuf,
}

impl AgentProc {
    /// Starts the agent for `name` (heartbeat 500 ms) and waits for its ready event.
    pub async fn start(
        target: &str,
        relay: &str,
        name: &str,
        store: &Path,
        extra: &[&str],
    ) -> Self {
        let mut child = hooktap()
            .args([
                "listen", target, "--relay", relay, "--token", TOKEN, "--name", name,
            ])
            .args([
                "--json",
                "--capture-addr",
                "127.0.0.1:0",
                "--api-addr",
                "off",
            ])
            .args(["--heartbeat", "500ms", "--store"])
            .arg(store)
            .args(extra)
            .spawn()
            .expect("the agent starts");
        let (tx, mut events) = mpsc::unbounded_channel();
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        let ready = tokio::time::timeout(EVENT_WAIT, events.recv())
            .await
            .expect("the agent's ready event in time")
            .expect("the agent printed its ready event");
        assert_eq!(ready["event"], "ready", "{ready}");
        Self {
            child,
            events,
            skipped: Vec::new(),
            public_url: ready["public_url"].as_str().expect("a public URL").into(),
            store: store.to_path_buf(),
        }
    }

    /// The oldest event not yet taken for which `wanted` holds; the others stay for
    /// later calls (a record may be printed before the tunnel event waited for first).
    pub async fn event(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.skipped.iter().position(&wanted) {
            return self.skipped.remove(at);
        }
        let (events, skipped) = (&mut self.events, &mut self.skipped);
        let wait = async {
            loop {
                match events.recv().await {
                    Some(event) if wanted(&event) => return event,
                    Some(event) => skipped.push(event),
                    None => panic!("the agent stopped before {what}"),
                }
            }
        };
        tokio::time::timeout(EVENT_WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// The next `request` event: one committed record.
    pub async fn request(&mut self) -> Value {
        self.event("a request event", |e| e["event"] == "request")
            .await
    }

    /// The next `tunnel` event in `state`.
    pub async fn tunnel(&mut self, state: &str) -> Value {
        self.event(&format!("the tunnel to be {state}"), |e| {
            e["event"] == "tunnel" && e["state"] == state
        })
        .await
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("the agent is killed");
    }

    /// The records in its store.
    pub fn records(&self) -> Vec<Record> {
        records(&self.store)
    }
}

/// One row of an agent's store.
#[derive(Debug, Clone)]
pub struct Record {
    pub uri: String,
    pub source: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub queued_id: Option<String>,
}

/// The records in the store file at `path`, oldest first.
pub fn records(path: &Path) -> Vec<Record> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the store opens");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut statement = conn
        .prepare("SELECT uri, source, status, error, queued_id FROM exchanges ORDER BY id")
        .unwrap();
    statement
        .query_map([], |r| {
            Ok(Record {
                uri: r.get(0)?,
                source: r.get(1)?,
                status: r.get(2)?,
                error: r.get(3)?,
                queued_id: r.get(4)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Requests in the queue database at `path` (read while the relay is down, or alongside it).
pub fn queued(path: &Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("the queue opens");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let count: i64 = conn
        .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))
        .expect("the queue is readable");
    count as u64
}

/// `PRAGMA integrity_check` of the SQLite file at `path` ("ok" when sound).
pub fn integrity(path: &Path) -> String {
    assert!(path.exists(), "{} exists", path.display());
    let conn = rusqlite::Connection::open(path).expect("the database opens");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check runs")
}

/// Asserts that both SQLite files pass `integrity_check`.
pub fn assert_sound(agent_store: &Path, relay_db: &Path) {
    assert_eq!(integrity(agent_store), "ok", "the agent's store");
    assert_eq!(integrity(relay_db), "ok", "the relay's queue");
}
