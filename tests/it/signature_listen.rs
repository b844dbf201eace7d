//! End to end: `hooktap listen --verify` puts each webhook's verdict in the `--json` request
//! event and the store, and `hooktap verify ID` recomputes it with the secrets given now.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const SECRET: &str = "It's a Secret to Everybody";
const GOOD: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const WAIT: Duration = Duration::from_secs(20);

/// An app that answers every request 200 after reading it whole.
fn app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the app");
    let addr = listener.local_addr().expect("app address");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let _ = read_message(&mut stream);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    addr
}

/// Reads one HTTP message (head and content-length body).
fn read_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(WAIT))?;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(data);
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return Ok(data);
            }
        }
    }
}

/// Sends a GitHub-style webhook to the capture address and waits for the answer.
fn send(capture: &str, signature: &str) {
    let mut stream = TcpStream::connect(capture).expect("connect to the capture listener");
    let body = "Hello, World!";
    let request = format!(
        "POST /hooks/github HTTP/1.1\r\nhost: {capture}\r\nx-github-event: ping\r\nx-hub-signature-256: {signature}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let answer = read_message(&mut stream).expect("an answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

struct Listen {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Listen {
    fn start(store: &std::path::Path, app: SocketAddr) -> Self {
        Self::with_secrets(store, app, &[&format!("github={SECRET}")])
    }

    fn with_secrets(store: &std::path::Path, app: SocketAddr, secrets: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .args([
                "listen",
                &app.port().to_string(),
                "--capture-addr",
                "127.0.0.1:0",
                "--api-addr",
                "off",
            ])
            .args([
                "--no-tui",
                "--json",
                "--store",
                store.to_str().expect("utf-8 path"),
            ])
            .args(secrets.iter().flat_map(|s| ["--verify", s]))
            .current_dir(store.parent().expect("store dir"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hooktap listen");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Listen { child, lines }
    }

    fn next_event(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .expect("an event line in time");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verify(store: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .arg("verify")
            .args(args)
            .args(["--store", store.to_str().expect("utf-8 path")])
            .current_dir(store.parent().expect("store dir"))
            .output()
            .expect("run hooktap verify")
    };
    let mut output = run();
    // The shared target dir may briefly hold another worktree's binary: retry once.
    if String::from_utf8_lossy(&output.stderr).contains("unrecognized subcommand") {
        output = run();
    }
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn listen_records_verdicts_and_verify_recomputes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("hooks.db");
    let listen = Listen::start(&store, app());
    let ready = listen.next_event();
    if ready["event"] != "ready" {
        panic!(
            "expected the ready event first (is another worktree's binary in target/?): {ready}"
        );
    }
    let capture = ready["capture_addr"]
        .as_str()
        .expect("capture_addr")
        .to_string();

    send(&capture, GOOD);
    let event = listen.next_event();
    assert_eq!(event["event"], "request", "{event}");
    assert_eq!(event["verdict"]["verdict"], "valid", "{event}");
    assert_eq!(event["verdict"]["provider"], "github", "{event}");
    let good_id = event["id"].as_str().expect("id").to_string();

    let tampered = GOOD.replace("757107", "000000");
    send(&capture, &tampered);
    let event = listen.next_event();
    assert_eq!(event["verdict"]["verdict"], "invalid", "{event}");
    assert_eq!(event["verdict"]["expected"], GOOD, "{event}");
    assert_eq!(event["verdict"]["received"], tampered.as_str(), "{event}");
    let bad_id = event["id"].as_str().expect("id").to_string();
    drop(listen);

    // `show` gives the details `verify` gives.
    let shown = Command::new(env!("CARGO_BIN_EXE_hooktap"))
        .args([
            "show",
            &bad_id,
            "--store",
            store.to_str().expect("utf-8 path"),
        ])
        .output()
        .expect("run hooktap show");
    let shown = String::from_utf8_lossy(&shown.stdout);
    for needle in [
        "signature invalid (github)",
        "header:   x-hub-signature-256",
        "expected: sha256=757107",
        &format!("received: {tampered}"),
        "signed:   \"{body}\"",
    ] {
        assert!(shown.contains(needle), "{needle} in: {shown}");
    }

    // Recomputed with the secrets configured now: none, the right one, a wrong one.
    let (code, out) = verify(&store, &[&good_id]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("no secret") && out.contains("--verify github=SECRET"),
        "{out}"
    );
    let flag = format!("github={SECRET}");
    let (code, out) = verify(&store, &[&good_id, "--verify", &flag]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&good_id) && out.contains("valid"), "{out}");
    let (code, out) = verify(&store, &[&good_id, &bad_id, "--verify", &flag]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("expected: sha256=757107") && out.contains("signed:   \"{body}\""),
        "{out}"
    );
    let (code, out) = verify(&store, &[&good_id, "--verify", "github=another", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let json: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(json["verdict"]["verdict"], "invalid", "{json}");
    assert!(
        !out.contains("another"),
        "the secret must not be printed: {out}"
    );
}

#[test]
fn an_unsigned_webhook_is_missing_header_for_the_configured_providers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("hooks.db");
    let listen = Listen::with_secrets(
        &store,
        app(),
        &[&format!("github={SECRET}"), "stripe=whsec_dGVzdA=="],
    );
    let ready = listen.next_event();
    let capture = ready["capture_addr"].as_str().expect("capture_addr");
    let mut stream = TcpStream::connect(capture).expect("connect to the capture listener");
    stream
        .write_all(
            b"POST /hooks HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
        )
        .expect("send");
    read_message(&mut stream).expect("an answer");
    let event = listen.next_event();
    assert_eq!(event["verdict"]["verdict"], "missing_header", "{event}");
    assert_eq!(event["verdict"]["provider"], "github, stripe", "{event}");
    assert_eq!(
        event["verdict"]["header"], "x-hub-signature-256, stripe-signature",
        "{event}"
    );
}
