//! `hooktap send` end to end: the built binary posts signed sample events to a real
//! `hooktap listen` (no app: it answers itself) and to a real app, and hooktap's verdicts say
//! valid, invalid or expired as asked.

use crate::common;

use common::App;
use common::cli::{Listen, run};
use serde_json::Value;

const GITHUB: &str = "gh-s3cret-value";
const STRIPE: &str = "whsec_s3cret_value";

/// A `listen` with no app that checks GitHub and Stripe signatures.
async fn listen(dir: &tempfile::TempDir) -> Listen {
    let github = format!("github={GITHUB}");
    let stripe = format!("stripe={STRIPE}");
    let args = ["--json", "--verify", &github, "--verify", &stripe];
    Listen::without_app(&dir.path().join("h.db"), &args).await
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn a_sent_event_arrives_signed_and_valid_and_the_answer_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let mut listen = listen(&dir).await;
    let to = listen.capture_url();
    let out = run(&["send", "github.push", "--to", &to, "--secret", GITHUB]).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("sent github.push to"), "{shown}");
    assert!(shown.contains("/webhooks/github"), "{shown}");
    assert!(shown.contains("200 OK in "), "{shown}");
    assert!(shown.contains(r#"{"ok":true,"hooktap":"no app: answering 200"}"#));
    assert!(!shown.contains(GITHUB), "the secret is never printed");
    let event = listen.next_event().await;
    assert_eq!(event["verdict"]["verdict"], "valid", "{event}");
    assert_eq!(event["verdict"]["provider"], "github");
    assert_eq!(event["path"], "/webhooks/github");

    // The secret from --verify works as well as --secret.
    let flag = format!("stripe={STRIPE}");
    let out = run(&[
        "send",
        "stripe.payment_intent.succeeded",
        "--to",
        &to,
        "--verify",
        &flag,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(listen.next_event().await["verdict"]["verdict"], "valid");
}

#[tokio::test]
async fn tamper_is_invalid_and_stale_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut listen = listen(&dir).await;
    let to = listen.capture_url();
    let out = run(&[
        "send",
        "github.push",
        "--to",
        &to,
        "--secret",
        GITHUB,
        "--tamper",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("body changed after signing"));
    let event = listen.next_event().await;
    assert_eq!(event["verdict"]["verdict"], "invalid", "{event}");

    let out = run(&[
        "send",
        "stripe.checkout.session.completed",
        "--to",
        &to,
        "--secret",
        STRIPE,
        "--stale",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let event = listen.next_event().await;
    assert_eq!(event["verdict"]["verdict"], "expired", "{event}");
    assert!(
        event["verdict"]["skew_secs"].as_i64().unwrap() >= 3599,
        "{event}"
    );

    // GitHub signs no timestamp: --stale cannot make it stale, and says so.
    let out = run(&[
        "send",
        "github.push",
        "--to",
        &to,
        "--secret",
        GITHUB,
        "--stale",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("signs no timestamp"), "{}", text(&out));
}

#[tokio::test]
async fn an_app_gets_the_providers_headers_and_your_own_body() {
    let mut app = App::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.json");
    std::fs::write(&file, br#"{"mine":true}"#).unwrap();
    let to = format!("http://127.0.0.1:{}/hooks/gh", app.port());
    let out = run(&[
        "send",
        "github",
        "--body",
        file.to_str().unwrap(),
        "--to",
        &to,
        "--secret",
        GITHUB,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("201 Created"), "{}", text(&out));
    let got = app.next().await;
    assert_eq!(got.uri, "/hooks/gh", "a URL's own path is kept");
    assert_eq!(&got.body[..], br#"{"mine":true}"#);
    assert_eq!(got.header("x-github-event").as_deref(), Some("push"));
    assert_eq!(got.header("x-github-delivery").map(|d| d.len()), Some(36));
    assert!(
        got.header("x-hub-signature-256")
            .unwrap()
            .starts_with("sha256=")
    );

    let port = app.port().to_string();
    let out = run(&["send", "slack.app_mention", "--to", &port, "--secret", "x"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let got = app.next().await;
    assert_eq!(got.uri, "/slack/events", "a port gets the event's own path");
    assert!(got.header("x-slack-signature").unwrap().starts_with("v0="));
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["event"]["type"], "app_mention");
}

#[tokio::test]
async fn list_names_the_events() {
    let out = run(&["send", "--list"]).await;
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout);
    for name in [
        "github.push",
        "github.ping",
        "stripe.payment_intent.succeeded",
        "standard-webhooks.user.created",
        "shopify.orders.create",
    ] {
        assert!(
            listed.lines().any(|l| l.starts_with(name)),
            "{name} in {listed}"
        );
    }
}

#[tokio::test]
async fn mistakes_are_usage_errors_and_silence_is_a_failure() {
    let out = run(&["send", "github.pushh", "--secret", "x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("github.push, github.ping"),
        "{}",
        text(&out)
    );

    let empty = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(common::cli::BIN)
        .args(["send", "stripe.payment_intent.succeeded", "--to", "5000"])
        .current_dir(empty.path())
        .env_remove("HOOKTAP_SEND_SECRET")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let told = text(&out);
    assert!(
        told.contains("no stripe secret") && told.contains("--secret"),
        "{told}"
    );

    // A port nobody listens on (bound, then let go): nothing answers.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&[
        "send",
        "github.ping",
        "--to",
        &free.to_string(),
        "--secret",
        "x",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing answered"), "{}", text(&out));
}
