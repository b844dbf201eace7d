//! Helpers for the replay, export and API tests: a forwarder on its own store, captures
//! made through a real `hooktap listen`, and a check that the shared binary is ours.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hooktap::capture::Target;
use hooktap::capture::{ForwardConfig, Forwarder};
use hooktap::exchange::Exchange;
use hooktap::store::{Location, Options, Store};
use http_body_util::Full;
use hyper::Request;

use super::cli::{BIN, Listen, run};
use super::{App, send};

/// A forwarder recording into `store`, aimed at `app` unless a replay says otherwise.
pub fn forwarder(store: &Store, app: &App) -> Forwarder {
    Forwarder::new(
        ForwardConfig {
            target: Target::parse(&app.port().to_string()).unwrap(),
            timeout: Duration::from_secs(10),
            capture_limit: 10 * 1024 * 1024,
        },
        store.clone(),
    )
}

/// An in-memory store.
pub fn memory_store() -> Store {
    Store::open(Options {
        location: Location::Memory,
        retain: 10_000,
        retain_bytes: None,
        verdict: None,
    })
    .unwrap()
}

/// Fails clearly when the shared `target/debug/hooktap` was re-linked by another worktree
/// without `subcommand` (see HELPERS_COMMON.md): re-run the test then.
pub async fn require_subcommand(subcommand: &str) {
    for attempt in 0..2 {
        let out = run(&["--help"]).await;
        let help = String::from_utf8_lossy(&out.stdout);
        if help.lines().any(|l| l.trim_start().starts_with(subcommand)) {
            return;
        }
        if attempt == 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    panic!(
        "{BIN} has no `{subcommand}` subcommand: another worktree re-linked the shared binary; re-run the test"
    );
}

/// A request as a test sends it.
pub struct Send<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: Vec<u8>,
}

impl<'a> Send<'a> {
    pub fn post(path: &'a str, body: &[u8]) -> Self {
        Self {
            method: "POST",
            path,
            headers: Vec::new(),
            body: body.to_vec(),
        }
    }

    pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn to(&self, base: &str) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method)
            .uri(format!("{base}{}", self.path));
        for (n, v) in &self.headers {
            builder = builder.header(*n, *v);
        }
        builder
            .body(Full::new(Bytes::from(self.body.clone())))
            .unwrap()
    }
}

/// Runs `hooktap listen` on `app` with `store`, sends `requests` through it (waiting for
/// each to reach the app and be recorded) and returns the recorded ids, in order.
pub async fn capture_via_cli(
    app: &mut App,
    store: &Path,
    requests: &[Send<'_>],
    extra: &[&str],
) -> Vec<String> {
    let mut args = vec!["--json", "--api-addr", "off"];
    args.extend_from_slice(extra);
    let mut listen = Listen::start(&app.port().to_string(), store, &args).await;
    let base = listen.capture_url();
    let mut ids = Vec::new();
    for request in requests {
        send(request.to(&base)).await;
        app.next().await;
        let event = listen.next_event().await;
        ids.push(event["id"].as_str().unwrap().to_string());
    }
    ids
}

/// The headers the app got, without `x-forwarded-for` (which names the original sender's
/// address, unknown to a replay).
pub fn headers_but_forwarded_for(headers: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(n, _)| n != "x-forwarded-for")
        .cloned()
        .collect()
}

/// Waits for the next exchange recorded in `store` from `events`.
pub async fn next_record(
    events: &mut tokio::sync::broadcast::Receiver<Arc<Exchange>>,
) -> Arc<Exchange> {
    super::within(events.recv()).await.unwrap()
}
