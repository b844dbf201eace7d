//! `replay --edit` through a real editor command, and `diff` of the edited replay
//! against its original.

use crate::common;

use common::App;
use common::cli::run;
use common::replay::{Send, capture_via_cli, require_subcommand};

async fn replay_with_editor(editor: &str, id: &str, store: &str) -> std::process::Output {
    common::within(
        tokio::process::Command::new(common::cli::BIN)
            .args(["replay", "--edit", id, "--store", store])
            .env_remove("VISUAL")
            .env_remove("HOOKTAP_STORE")
            .env("EDITOR", editor)
            .output(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn cli_edit_sends_what_was_saved_and_diff_shows_the_change() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let sends = [Send::post("/pay", br#"{"amount":100,"currency":"eur"}"#)
        .header("content-type", "application/json")];
    let ids = capture_via_cli(&mut app, &store, &sends, &[]).await;

    for cancel in ["true", "cp /dev/null"] {
        let out = replay_with_editor(cancel, &ids[0], store_arg).await;
        assert!(out.status.success(), "{cancel}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("hooktap: replay cancelled"),
            "{cancel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = replay_with_editor("false", &ids[0], store_arg).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was sent"));
    assert!(app.received.try_recv().is_err(), "nothing sent so far");

    let out = replay_with_editor(
        "sed -i -e s/100/25000/ -e s#/pay#/pay/v2#",
        &ids[0],
        store_arg,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = app.next().await;
    let edited = br#"{"amount":25000,"currency":"eur"}"#;
    assert_eq!(got.uri, "/pay/v2");
    assert_eq!(&got.body[..], edited);
    assert_eq!(
        got.header("content-length"),
        Some(edited.len().to_string()),
        "Content-Length is fixed up"
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let new_id = line.split_whitespace().nth(2).unwrap().to_string();

    let out = run(&["diff", &new_id, "--store", store_arg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("~ $.amount: 100 -> 25000"), "{diff}");
    assert!(
        diff.contains("request line: POST /pay -> POST /pay/v2"),
        "{diff}"
    );
    assert!(diff.contains("status: same (201)"), "{diff}");
    assert!(
        diff.contains("request headers: same"),
        "only Content-Length changed: {diff}"
    );

    let out = run(&["diff", &ids[0], "--store", store_arg]).await;
    assert_eq!(out.status.code(), Some(2), "the original is not a replay");
    assert!(String::from_utf8_lossy(&out.stderr).contains("name a second ID"));
}

#[tokio::test]
async fn an_edit_that_breaks_the_signature_says_so_on_the_replay_line() {
    require_subcommand("replay").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    // GitHub's documented example: secret, body and signature.
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let sends = [Send::post("/gh", b"Hello, World!")
        .header("x-github-event", "ping")
        .header("x-hub-signature-256", sig)];
    let secret = ["--verify", "github=It's a Secret to Everybody"];
    let ids = capture_via_cli(&mut app, &store, &sends, &secret).await;
    let out = common::within(
        tokio::process::Command::new(common::cli::BIN)
            .args(["replay", "--edit", &ids[0], "--store", store_arg])
            .args(secret)
            .env_remove("VISUAL")
            .env_remove("HOOKTAP_STORE")
            .env("EDITOR", "sed -i s/World/Moon/")
            .output(),
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&app.next().await.body[..], b"Hello, Moon!");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.contains("sig:invalid (github): the edit broke the signature; --resign renews it"),
        "{line}"
    );
}
