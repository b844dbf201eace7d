//! The inspector end to end: the real binary in a detached tmux session (a bare
//! pseudo-terminal would not answer crossterm's queries), reading what a headless
//! `hooktap listen` records into the same store.

use crate::common;

use common::cli::{BIN, Listen};
use common::tmux::Tmux;
use common::{App, send, within};
use http_body_util::Full;

async fn post(url: &str, body: &str) -> u16 {
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    within(send(req)).await.0
}

#[tokio::test]
async fn ui_tails_a_headless_listen_opens_replays_filters_and_restores_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut app = App::start().await;
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--no-tui"]).await;
    let capture = listen.capture_url_from_line();
    assert_eq!(post(&format!("{capture}/before"), "{}").await, 201);
    app.next().await;

    let tmux = Tmux::start("ui", 120, 30);
    tmux.wait_for("the shell", |s| s.contains("shell$")).await;
    tmux.keys(&[&format!("{BIN} ui --store {}", store.display()), "Enter"]);
    let screen = tmux
        .wait_for("the inspector", |s| {
            s.contains("viewer of") && s.contains("/before")
        })
        .await;
    // listen has the file open, and committed just before (its -wal says so).
    let pid = listen.child.id().expect("listen runs");
    assert!(
        screen.contains(&format!("● writer active (pid {pid}) · last record")),
        "{screen}"
    );

    // Sent after the inspector started: it appears, selected (follow is on).
    let body = r#"{"marker":"tmux-e2e","n":1}"#;
    assert_eq!(post(&format!("{capture}/after-start"), body).await, 201);
    app.next().await;
    tmux.wait_for("the new request", |s| {
        s.contains("›")
            && s.lines()
                .any(|l| l.contains("›") && l.contains("/after-start"))
    })
    .await;
    tmux.wait_for("the writer seen committing", |s| {
        s.contains(&format!("● writer active (pid {pid}) · last record"))
    })
    .await;
    tmux.keys(&["Enter"]);
    tmux.wait_for("its body, pretty", |s| {
        s.contains(r#""marker": "tmux-e2e","#)
    })
    .await;

    // Replayed to the app and recorded in the same store.
    tmux.keys(&["r"]);
    let screen = tmux
        .wait_for("the replay", |s| {
            s.contains("replayed ") && s.contains("replay ")
        })
        .await;
    assert!(screen.contains(": 201 in"), "{screen}");
    assert_eq!(app.next().await.uri, "/after-start");

    tmux.keys(&["Escape", "/", "path:/after", "Enter"]);
    let screen = tmux
        .wait_for("the filter", |s| {
            s.contains("filter: path:/after (2 shown)")
        })
        .await;
    assert!(!screen.contains("/before"), "{screen}");

    // The writer stops: the viewer says so (its own replay was not the writer's).
    listen.child.kill().await.unwrap();
    tmux.wait_for("the writer gone", |s| {
        s.contains("● no writer open · last record")
    })
    .await;

    tmux.keys(&["q"]);
    let screen = tmux
        .wait_for("the shell back", |s| {
            !s.contains("viewer of") && s.contains("shell$")
        })
        .await;
    assert!(
        screen.contains("ui --store"),
        "the shell's screen is back as it was: {screen}"
    );
}

#[tokio::test]
async fn listen_on_a_terminal_opens_the_inspector_and_q_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut app = App::start().await;
    let tmux = Tmux::start("listen", 100, 24);
    tmux.wait_for("the shell", |s| s.contains("shell$")).await;
    // An "editor" that changes the body, for `e`.
    let editor = dir.path().join("edit.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/true/false/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let command = format!(
        "EDITOR={} {BIN} listen {} --capture-addr 127.0.0.1:0 --api-addr off --store {}",
        editor.display(),
        app.port(),
        store.display()
    );
    tmux.keys(&[&command, "Enter"]);
    let screen = tmux
        .wait_for("the inspector", |s| s.contains("capturing on http://"))
        .await;
    let capture = screen
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the capture address in the header")
        .to_string();
    assert!(screen.contains("(local capture only)"), "{screen}");

    assert_eq!(
        post(&format!("{capture}/live"), r#"{"live":true}"#).await,
        201
    );
    app.next().await;
    tmux.wait_for("the request", |s| {
        s.lines()
            .any(|l| l.contains("›") && l.contains("/live") && l.contains("201"))
    })
    .await;
    tmux.keys(&["r"]);
    tmux.wait_for("its replay", |s| {
        s.contains("replayed ") && s.contains("same response")
    })
    .await;
    assert_eq!(app.next().await.uri, "/live");
    tmux.keys(&["/", "source:replay", "Enter"]);
    tmux.wait_for("the filter", |s| {
        s.contains("filter: source:replay (1 shown)")
    })
    .await;

    // Edited in $EDITOR (the terminal handed over and taken back), then sent.
    tmux.keys(&["e"]);
    assert_eq!(&app.next().await.body[..], br#"{"live":false}"#);
    tmux.wait_for("the edited replay", |s| {
        s.contains("filter: source:replay (2 shown)") && s.contains("replayed ")
    })
    .await;

    tmux.keys(&["q"]);
    tmux.wait_for("the shell back", |s| {
        !s.contains("capturing on") && s.contains("shell$")
    })
    .await;
    // listen stopped and committed: the records are in the store for the other commands.
    let out = common::cli::run(&["requests", "--json", "--store", store.to_str().unwrap()]).await;
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "{rows}");
}

#[tokio::test]
async fn a_request_waiting_for_the_app_shows_in_flight_then_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let (app, gate, mut arrived) = common::gated::gated_app().await;
    let tmux = Tmux::start("inflight", 100, 24);
    tmux.wait_for("the shell", |s| s.contains("shell$")).await;
    let command = format!(
        "{BIN} listen {} --capture-addr 127.0.0.1:0 --api-addr off --store {}",
        app.port(),
        store.display()
    );
    tmux.keys(&[&command, "Enter"]);
    let screen = tmux
        .wait_for("the inspector", |s| s.contains("capturing on http://"))
        .await;
    let capture = screen
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the capture address in the header")
        .to_string();

    // The app holds the request: the row is there before the answer, marked in flight.
    let sender = tokio::spawn(async move { post(&format!("{capture}/held"), "{}").await });
    within(arrived.recv())
        .await
        .expect("the app has the request");
    tmux.wait_for("the in-flight row", |s| {
        s.lines().any(|l| l.contains("/held") && l.contains('…'))
    })
    .await;
    gate.send_replace(true);
    assert_eq!(within(sender).await.unwrap(), 200);
    tmux.wait_for("the row answered", |s| {
        s.lines()
            .any(|l| l.contains("/held") && l.contains("200") && !l.contains('…'))
    })
    .await;
    tmux.keys(&["q"]);
    tmux.wait_for("the shell back", |s| {
        !s.contains("capturing on") && s.contains("shell$")
    })
    .await;
}
