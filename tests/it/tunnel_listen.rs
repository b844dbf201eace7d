//! `hooktap listen --relay` as a user runs it: the built binary, a real relay and app.

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use hooktap::relay::{Auth, RelayConfig};
use tokio::io::AsyncBufReadExt;

fn token_relay() -> RelayConfig {
    RelayConfig::new(Auth::new(&["t1".into(), "t2".into()], None, false).unwrap())
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finishes in time");
}

/// Runs the built binary; its output is read line by line.
struct Listen {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Listen {
    fn spawn(args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .arg("listen")
            .args(args)
            .args(["--capture-addr", "127.0.0.1:0", "--store", ":memory:"])
            .args(["--api-addr", "off"])
            .env_remove("HOOKTAP_RELAY")
            .env_remove("HOOKTAP_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        Self {
            child,
            lines: tokio::io::BufReader::new(stdout).lines(),
        }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("a line before the end")
    }
}

#[tokio::test]
async fn listen_prints_the_public_url_first_and_tunnel_events() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let target = format!("http://{}", app.addr);
        let mut listen = Listen::spawn(&[
            &target,
            "--relay",
            &relay.url(),
            "--token",
            "t1",
            "--name",
            "cli",
            "--json",
        ]);
        let ready: serde_json::Value = serde_json::from_str(&listen.line().await).unwrap();
        assert_eq!(ready["event"], "ready");
        let public = format!("http://{}/t/cli", relay.addr);
        assert_eq!(ready["public_url"], public.as_str());

        let client = client();
        let (status, _, _) = post(&client, &format!("{public}/hook"), "hi").await;
        assert_eq!(status, 200);
        let request: serde_json::Value = serde_json::from_str(&listen.line().await).unwrap();
        assert_eq!(request["event"], "request");

        // The relay goes away: the agent says so, and says when it is back.
        let addr = relay.addr.to_string();
        relay.stop().await;
        let offline: serde_json::Value = serde_json::from_str(&listen.line().await).unwrap();
        assert_eq!(
            (offline["event"].as_str(), offline["state"].as_str()),
            (Some("tunnel"), Some("offline"))
        );
        let relay = start_relay(&addr, token_relay()).await;
        let online = loop {
            let event: serde_json::Value = serde_json::from_str(&listen.line().await).unwrap();
            if event["state"] != "reconnecting" {
                break event;
            }
        };
        assert_eq!(online["state"], "online");
        assert_eq!(online["public_url"], public.as_str());
        let (status, _, _) = post(&client, &format!("{public}/again"), "hi").await;
        assert_eq!(status, 200);
        listen.child.kill().await.unwrap();
        relay.stop().await;

        // Plain output: the public URL is the first line.
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let mut plain = Listen::spawn(&[
            &target,
            "--relay",
            &relay.url(),
            "--token",
            "t1",
            "--no-tui",
        ]);
        let first = plain.line().await;
        assert!(
            first.starts_with(&format!("http://{}/t/", relay.addr)),
            "{first}"
        );
        plain.child.kill().await.unwrap();
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn listen_with_a_refused_token_exits_1_with_one_sentence() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let target = format!("http://{}", app.addr);
        let listen = Listen::spawn(&[&target, "--relay", &relay.url(), "--token", "bad", "--json"]);
        let output = tokio::time::timeout(Duration::from_secs(10), listen.child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty(), "no ready event on refusal");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            stderr,
            "hooktap: the relay refused the tunnel: the relay does not accept this token: check --token or HOOKTAP_TOKEN\n"
        );
        assert!(!stderr.contains("bad"), "the token is never printed");
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn listen_replaced_by_a_newer_agent_with_the_same_token_exits_1_and_says_why() {
    bounded(async {
        let app = start_app().await;
        let relay = start_relay("127.0.0.1:0", token_relay()).await;
        let target = format!("http://{}", app.addr);
        let args = [
            target.as_str(),
            "--relay",
            &relay.url(),
            "--token",
            "t1",
            "--name",
            "twin",
            "--json",
        ];
        let mut older = Listen::spawn(&args);
        let ready: serde_json::Value = serde_json::from_str(&older.line().await).unwrap();
        assert_eq!(ready["event"], "ready");
        let mut newer = Listen::spawn(&args);
        let ready: serde_json::Value = serde_json::from_str(&newer.line().await).unwrap();
        assert_eq!(ready["event"], "ready");

        let event: serde_json::Value = serde_json::from_str(&older.line().await).unwrap();
        assert_eq!(event["state"], "replaced", "{event}");
        assert_eq!(
            event["message"],
            "replaced by another agent with the same token"
        );
        let status = tokio::time::timeout(Duration::from_secs(10), older.child.wait())
            .await
            .expect("the older listen exits")
            .unwrap();
        assert_eq!(status.code(), Some(1));
        let mut stderr = String::new();
        tokio::io::AsyncReadExt::read_to_string(
            older.child.stderr.as_mut().unwrap(),
            &mut stderr,
        )
        .await
        .unwrap();
        assert_eq!(
            stderr,
            "hooktap: the tunnel was replaced by another agent with the same token: stop the other agent or pick another --name\n"
        );

        // The newer one keeps the name and records the traffic.
        let client = client();
        let (status, _, _) = post(&client, &relay.http("/t/twin/hook"), "hi").await;
        assert_eq!(status, 200);
        let request: serde_json::Value = serde_json::from_str(&newer.line().await).unwrap();
        assert_eq!(request["event"], "request");
        newer.child.kill().await.unwrap();
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn with_a_domain_listen_prints_the_subdomain_and_the_path_url_labelled() {
    bounded(async {
        let app = start_app().await;
        let domain_relay = || {
            let mut config = token_relay();
            config.domain = Some("hooks.test".into());
            config
        };
        let relay = start_relay("127.0.0.1:0", domain_relay()).await;
        let port = relay.addr.port();
        let subdomain = format!("http://sub.hooks.test:{port}");
        let path = format!("http://{}/t/sub", relay.addr);
        let target = format!("http://{}", app.addr);
        let args = |extra: &'static str| {
            vec![
                target.clone(),
                "--relay".into(),
                relay.url(),
                "--token".into(),
                "t1".into(),
                "--name".into(),
                "sub".into(),
                extra.into(),
            ]
        };

        let json_args = args("--json");
        let json_args: Vec<&str> = json_args.iter().map(String::as_str).collect();
        let mut json = Listen::spawn(&json_args);
        let ready: serde_json::Value = serde_json::from_str(&json.line().await).unwrap();
        assert_eq!(ready["public_url"], subdomain.as_str(), "the preferred one");
        assert_eq!(ready["public_urls"], serde_json::json!([subdomain, path]));
        json.child.kill().await.unwrap();

        let plain_args = args("--no-tui");
        let plain_args: Vec<&str> = plain_args.iter().map(String::as_str).collect();
        let mut plain = Listen::spawn(&plain_args);
        assert_eq!(plain.line().await, format!("{subdomain}  (subdomain)"));
        assert_eq!(
            plain.line().await,
            format!("{path}  (path: works without wildcard DNS)")
        );
        assert!(plain.line().await.starts_with("hooktap: capturing on"));

        // Back after a relay restart: the line names both again.
        let addr = relay.addr.to_string();
        relay.stop().await;
        let relay = start_relay(&addr, domain_relay()).await;
        let online = loop {
            let line = plain.line().await;
            if line.contains("online again") {
                break line;
            }
        };
        assert_eq!(
            online,
            format!(
                "hooktap: tunnel online again at {subdomain} (subdomain) and {path} (path: works without wildcard DNS)"
            )
        );
        plain.child.kill().await.unwrap();
        relay.stop().await;
    })
    .await;
}
