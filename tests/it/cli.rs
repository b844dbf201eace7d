//! The `hooktap` binary: listen, requests and show against a real store file, and the
//! errors a user can cause.

use crate::common;

use bytes::Bytes;
use common::cli::{Listen, run, run_json};
use common::{App, send};
use http_body_util::Full;
use hyper::Request;

fn store_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("captures.db")
}

#[tokio::test]
async fn records_survive_a_restart_and_requests_and_show_agree_with_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let port = app.port().to_string();

    let mut listen = Listen::start(&port, &store, &["--json"]).await;
    let ready: serde_json::Value = serde_json::from_str(&listen.first_line).unwrap();
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["target"], format!("http://127.0.0.1:{port}"));
    assert!(ready["public_url"].is_null());
    let json_body = br#"{"type":"invoice.paid","amount":4200}"#;
    let req = Request::post(format!("{}/hooks/stripe?attempt=1", listen.capture_url()))
        .header("content-type", "application/json")
        .header("x-dup", "1")
        .header("x-dup", "2")
        .body(Full::new(Bytes::from_static(json_body)))
        .unwrap();
    assert_eq!(send(req).await.0, 201);
    let event = listen.next_event().await;
    assert_eq!(event["event"], "request");
    assert_eq!(event["method"], "POST");
    assert_eq!(event["path"], "/hooks/stripe?attempt=1");
    assert_eq!(event["status"], 201);
    let first_id = event["id"].as_str().unwrap().to_string();
    app.next().await;
    drop(listen);

    // A second run on the same store keeps the history.
    let mut listen = Listen::start(&port, &store, &["--json"]).await;
    let binary: Vec<u8> = vec![0, 159, 146, 150, 255, 10, 13];
    let req = Request::put(format!("{}/bin", listen.capture_url()))
        .body(Full::new(Bytes::from(binary.clone())))
        .unwrap();
    assert_eq!(send(req).await.0, 201);
    let second_id = listen.next_event().await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.next().await;

    // Read while listen is still running.
    let list = run_json(&["requests", "--json", "--store", store_arg]).await;
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second_id.as_str(), first_id.as_str()], "newest first");
    assert_eq!(list[1]["path"], "/hooks/stripe?attempt=1");
    assert_eq!(list[1]["request_size"], json_body.len());
    assert_eq!(list[0]["method"], "PUT");

    let shown = run_json(&["show", &first_id[..8], "--json", "--store", store_arg]).await;
    assert_eq!(
        shown["id"],
        first_id.as_str(),
        "a unique prefix is accepted"
    );
    assert_eq!(
        shown["request"]["body"]["text"],
        std::str::from_utf8(json_body).unwrap()
    );
    assert_eq!(shown["response"]["status"], 201);
    let dups: Vec<_> = shown["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "x-dup")
        .map(|h| h[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dups, ["1", "2"]);

    let raw = run(&["show", &second_id, "--raw", "--store", store_arg]).await;
    assert!(raw.status.success());
    assert!(raw.stdout.starts_with(b"PUT /bin HTTP/1.1\r\n"));
    assert!(
        raw.stdout
            .ends_with(&[b"\r\n\r\n".as_slice(), &binary].concat()),
        "body bytes exact"
    );

    let human = run(&["show", &first_id, "--store", store_arg]).await;
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(
        text.contains("\"type\": \"invoice.paid\""),
        "JSON is pretty-printed: {text}"
    );
}

#[tokio::test]
async fn headless_lines_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--no-tui"]).await;
    assert!(
        listen
            .first_line
            .starts_with("hooktap: capturing on http://127.0.0.1:"),
        "{}",
        listen.first_line
    );
    let capture = listen.capture_url_from_line();
    for path in ["/ok/1", "/status/500", "/ok/2", "/status/404"] {
        let req = Request::post(format!("{capture}{path}"))
            .body(Full::new(Bytes::from_static(b"hello")))
            .unwrap();
        send(req).await;
        app.next().await;
        let line = listen.next_line().await;
        let status = path.strip_prefix("/status/").unwrap_or("201");
        assert!(line.contains(&format!("POST   {path} {status} ")), "{line}");
        assert!(line.contains("5 B"), "size shown: {line}");
    }
    let failed = run_json(&["requests", "--json", "--failed", "--store", store_arg]).await;
    let paths: Vec<_> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/status/404", "/status/500"]);
    let ok = run_json(&[
        "requests", "--json", "--path", "/ok", "--limit", "1", "--store", store_arg,
    ])
    .await;
    assert_eq!(ok.as_array().unwrap().len(), 1);
    assert_eq!(ok[0]["path"], "/ok/2");
    let recent = run_json(&["requests", "--json", "--since", "1h", "--store", store_arg]).await;
    assert_eq!(recent.as_array().unwrap().len(), 4);
    let future = run_json(&[
        "requests",
        "--json",
        "--since",
        "2999-01-01T00:00:00Z",
        "--store",
        store_arg,
    ])
    .await;
    assert!(future.as_array().unwrap().is_empty());
    let table = run(&["requests", "--store", store_arg]).await;
    let table = String::from_utf8(table.stdout).unwrap();
    assert_eq!(table.lines().count(), 5, "a header and four rows:\n{table}");
}

#[tokio::test]
async fn deliveries_go_on_when_nobody_reads_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let app = App::start().await;
    // After its first line, nobody reads listen's stdout: the pipe (64 KiB) fills up.
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--no-tui"]).await;
    let capture = listen.capture_url_from_line();
    let long = "x".repeat(2000);
    // About 800 KiB of log lines, far more than the pipe holds.
    for i in 0..400 {
        let req = Request::post(format!("{capture}/{i}/{long}"))
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let (status, _, _) = send(req).await;
        assert_eq!(status, 201, "request {i} was delivered");
    }
    // Ctrl-C: listen commits what it has and exits, its output still blocked.
    let pid = listen.child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = common::within(listen.child.wait()).await.unwrap();
    assert!(status.success(), "{status}");
    let recorded = run_json(&[
        "requests",
        "--json",
        "--limit",
        "1000",
        "--store",
        store.to_str().unwrap(),
    ])
    .await;
    assert_eq!(recorded.as_array().unwrap().len(), 400, "all recorded");
}

#[tokio::test]
async fn a_200_mib_upload_passes_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = App::start().await;
    let listen = Listen::start(&app.port().to_string(), &store_in(&dir), &["--json"]).await;
    const CHUNK: usize = 256 * 1024;
    const TOTAL: usize = 200 * 1024 * 1024;
    let chunks = futures_util::stream::iter((0..TOTAL / CHUNK).map(|i| {
        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(vec![
            i as u8;
            CHUNK
        ])))
    }));
    let body = http_body_util::StreamBody::new(chunks);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let req = Request::post(format!("{}/upload", listen.capture_url()))
        .body(body)
        .unwrap();
    let response = common::within(client.request(req)).await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(app.next().await.body_len, TOTAL as u64);
    let peak_mib = listen.peak_rss_kib() / 1024;
    // The 10 MiB capture copy plus runtime and SQLite; nowhere near the 200 MiB body.
    assert!(
        peak_mib < 80,
        "listen peaked at {peak_mib} MiB for a 200 MiB upload"
    );
}

async fn fails_with(args: &[&str], code: i32, needle: &str) {
    let out = run(args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "hooktap {args:?}: {stderr}");
    assert!(stderr.contains(needle), "hooktap {args:?} said: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one sentence: {stderr}"
    );
}

#[tokio::test]
async fn user_errors_are_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let store_arg = store.to_str().unwrap();
    fails_with(
        &["listen", "fivethousand", "--store", ":memory:"],
        2,
        "neither a port",
    )
    .await;
    fails_with(
        &["listen", "https://x.test", "--store", ":memory:"],
        2,
        "only http://",
    )
    .await;

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    fails_with(
        &[
            "listen",
            "5000",
            "--capture-addr",
            &addr,
            "--store",
            ":memory:",
        ],
        1,
        "already in use",
    )
    .await;

    fails_with(&["requests", "--store", store_arg], 1, "no store at").await;

    // Make a store with two records.
    let mut app = App::start().await;
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--json"]).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        send(
            Request::get(format!("{}/x", listen.capture_url()))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
        app.next().await;
        ids.push(
            listen.next_event().await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    drop(listen);
    let shared: String = ids[0]
        .chars()
        .zip(ids[1].chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    fails_with(
        &["show", "zzzzzzzz", "--store", store_arg],
        1,
        "no request with id",
    )
    .await;
    fails_with(&["show", &shared, "--store", store_arg], 1, "ambiguous").await;
    fails_with(
        &["show", "../etc", "--store", store_arg],
        1,
        "not a request id",
    )
    .await;

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is not sqlite at all, not even close........",
    )
    .unwrap();
    for command in [&["requests"][..], &["listen", "5000", "--api-addr", "off"]] {
        let args = [command, &["--store", garbage.to_str().unwrap()]].concat();
        fails_with(&args, 1, "is not a hooktap store (not an SQLite database)").await;
        let out = run(&args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("file is not a database"),
            "said once: {stderr}"
        );
    }

    let newer = dir.path().join("newer.db");
    let conn = rusqlite::Connection::open(&newer).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    fails_with(
        &["requests", "--store", newer.to_str().unwrap()],
        1,
        "newer hooktap",
    )
    .await;
    fails_with(
        &[
            "listen",
            "5000",
            "--capture-addr",
            "127.0.0.1:0",
            "--store",
            newer.to_str().unwrap(),
        ],
        1,
        "newer hooktap",
    )
    .await;
}

#[tokio::test]
async fn help_names_environment_variables_without_an_empty_value() {
    for command in ["listen", "requests", "show", "replay", "export"] {
        let out = run(&[command, "--help"]).await;
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command} --help: {help}");
        assert!(help.contains("[env: HOOKTAP_STORE]"), "{command}: {help}");
        assert!(!help.contains("=]"), "{command}: {help}");
    }
    let out = run(&["listen", "--help"]).await;
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[env: HOOKTAP_RELAY]"), "{help}");
}

#[tokio::test]
async fn more_user_errors_are_one_clear_sentence() {
    let listen = ["listen", "5000", "--capture-addr", "127.0.0.1:0"];
    let memory = ["--store", ":memory:"];
    let args = [
        &listen[..],
        &memory,
        &["--api-addr", "off", "--relay", "127.0.0.1:8090"],
    ]
    .concat();
    fails_with(&args, 2, "write ws://127.0.0.1:8090").await;

    let args = [
        &listen[..],
        &memory,
        &["--api-addr", "0.0.0.0:0", "--api-allow-remote"],
    ]
    .concat();
    fails_with(&args, 2, "pass --api-token TOKEN").await;
    let stderr = String::from_utf8_lossy(&run(&args).await.stderr).into_owned();
    assert!(
        !stderr.contains("--api-allow-remote"),
        "names only the missing flag: {stderr}"
    );

    // Root may write almost anywhere, but not new files in sysfs.
    let denied = std::path::Path::new("/sys/hooktap-test.db");
    let refused = std::fs::File::create(denied)
        .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
    if refused {
        let args = [
            &listen[..],
            &["--api-addr", "off", "--store", "/sys/hooktap-test.db"],
        ]
        .concat();
        fails_with(&args, 1, "permission denied").await;
        let stderr = String::from_utf8_lossy(&run(&args).await.stderr).to_lowercase();
        assert_eq!(stderr.matches("permission denied").count(), 1, "{stderr}");
    } else {
        eprintln!(
            "skipped the permission check: {} is writable here",
            denied.display()
        );
    }
}

#[tokio::test]
async fn requests_says_when_filters_match_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--json"]).await;
    send(
        Request::get(format!("{}/x", listen.capture_url()))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    app.next().await;
    listen.next_event().await;
    drop(listen);
    let out = run(&[
        "requests", "--failed", "--path", "/nothing", "--store", store_arg,
    ])
    .await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "hooktap: no requests match --failed --path /nothing\n"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn stores_and_exports_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("new/sub/captures.db");
    let mut app = App::start().await;
    let mut listen = Listen::start(&app.port().to_string(), &store, &["--json"]).await;
    send(
        Request::post(format!("{}/x", listen.capture_url()))
            .body(Full::new(Bytes::from_static(b"secret body")))
            .unwrap(),
    )
    .await;
    app.next().await;
    listen.next_event().await;
    for folder in ["new", "new/sub"] {
        assert_eq!(mode(&dir.path().join(folder)), 0o700, "{folder}");
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", store.display()));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(listen);

    let exported = dir.path().join("export.har");
    let out = run(&[
        "export",
        "--har",
        "-o",
        exported.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&exported), 0o600);

    // A store an older hooktap left readable by others is made private when opened.
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let listen = Listen::start(&app.port().to_string(), &store, &["--json"]).await;
    assert_eq!(mode(&store), 0o600);
    drop(listen);
}
