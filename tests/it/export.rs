//! Exports end to end: curl commands run by real `curl`, HAR 1.2 checked field by field,
//! fixtures sent again with `replay --from-file`.

use crate::common;

use std::process::Stdio;

use common::App;
use common::cli::run;
use common::replay::{Send, capture_via_cli, require_subcommand};
use serde_json::Value;

/// The requests every export test records: JSON with awkward characters, binary with
/// every byte value, a text body too big for one command-line argument, an empty POST.
fn sends() -> Vec<Send<'static>> {
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let big_text: Vec<u8> = "line with 'quotes' and %s and \\n\n"
        .repeat(4000)
        .into_bytes();
    vec![
        Send::post("/hooks/json?x=1&y=%2F", br#"@{"it's":"a \"test\"","n":1}"#)
            .header("content-type", "application/json")
            .header("authorization", "Bearer sk_live_secret")
            .header("x-dup", "1")
            .header("x-dup", "2"),
        Send::post("/bin", &binary).header("content-type", "application/octet-stream"),
        Send::post("/big", &big_text),
        Send::post("/empty", b""),
    ]
}

async fn export(args: &[&str]) -> Vec<u8> {
    let out = run(args).await;
    assert!(
        out.status.success(),
        "hooktap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn curl_export_run_by_real_curl_reproduces_the_requests_byte_for_byte() {
    require_subcommand("export").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let sends = sends();
    capture_via_cli(&mut app, &store, &sends, &[]).await;

    let redacted =
        String::from_utf8(export(&["export", "--curl", "--store", store_arg]).await).unwrap();
    assert!(redacted.contains("'authorization: REDACTED'"), "{redacted}");
    assert!(!redacted.contains("sk_live_secret"));

    let script = export(&["export", "--curl", "--no-redact", "--store", store_arg]).await;
    let path = dir.path().join("replay.sh");
    std::fs::write(&path, &script).unwrap();
    let status = common::within(
        tokio::process::Command::new("sh")
            .arg(&path)
            .stdout(Stdio::null())
            .status(),
    )
    .await
    .unwrap();
    assert!(status.success(), "the curl script failed");
    for sent in &sends {
        let got = app.next().await;
        assert_eq!(got.uri, sent.path);
        assert_eq!(got.method, "POST");
        assert_eq!(got.body_len, sent.body.len() as u64, "{}", sent.path);
        assert_eq!(
            &got.body[..],
            &sent.body[..],
            "{}: body byte for byte",
            sent.path
        );
        let mine: Vec<(String, String)> = got
            .headers
            .iter()
            .filter(|(n, _)| n != "host" && n != "content-length")
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        let expected: Vec<(String, String)> = sent
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            mine, expected,
            "{}: curl adds no headers of its own",
            sent.path
        );
    }
}

fn is_str(v: &Value) -> bool {
    v.is_string()
}
fn is_num(v: &Value) -> bool {
    v.is_number()
}

/// The fields HAR 1.2 requires, with their types.
fn check_har_entry(entry: &Value) {
    assert!(is_str(&entry["startedDateTime"]));
    humantime::parse_rfc3339(entry["startedDateTime"].as_str().unwrap()).expect("ISO 8601 time");
    assert!(is_num(&entry["time"]));
    assert!(entry["cache"].is_object());
    for t in ["send", "wait", "receive"] {
        assert!(entry["timings"][t].as_f64().unwrap() >= 0.0, "timings.{t}");
    }
    let req = &entry["request"];
    for f in ["method", "url", "httpVersion"] {
        assert!(is_str(&req[f]), "request.{f}");
    }
    for f in ["cookies", "headers", "queryString"] {
        assert!(req[f].is_array(), "request.{f}");
    }
    assert!(is_num(&req["headersSize"]) && is_num(&req["bodySize"]));
    for h in req["headers"].as_array().unwrap() {
        assert!(is_str(&h["name"]) && is_str(&h["value"]));
    }
    let resp = &entry["response"];
    assert!(is_num(&resp["status"]));
    for f in ["statusText", "httpVersion", "redirectURL"] {
        assert!(is_str(&resp[f]), "response.{f}");
    }
    assert!(resp["cookies"].is_array() && resp["headers"].is_array());
    assert!(is_num(&resp["content"]["size"]) && is_str(&resp["content"]["mimeType"]));
    assert!(is_num(&resp["headersSize"]) && is_num(&resp["bodySize"]));
}

#[tokio::test]
async fn har_export_is_har_1_2_with_the_bodies() {
    require_subcommand("export").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let sends = sends();
    let ids = capture_via_cli(&mut app, &store, &sends, &[]).await;

    let har: Value =
        serde_json::from_slice(&export(&["export", "--har", "--store", store_arg]).await)
            .expect("the HAR is JSON");
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "hooktap");
    assert!(is_str(&log["creator"]["version"]));
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), sends.len());
    entries.iter().for_each(check_har_entry);

    let json = &entries[0];
    assert_eq!(json["_hooktapId"], ids[0].as_str());
    assert_eq!(
        json["request"]["url"],
        format!("http://127.0.0.1:{}/hooks/json?x=1&y=%2F", app.port())
    );
    assert_eq!(
        json["request"]["queryString"],
        serde_json::json!([{"name":"x","value":"1"},{"name":"y","value":"/"}])
    );
    assert_eq!(
        json["request"]["postData"]["text"]
            .as_str()
            .unwrap()
            .as_bytes(),
        &sends[0].body[..]
    );
    assert_eq!(json["request"]["postData"]["mimeType"], "application/json");
    let auth = json["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "authorization")
        .unwrap();
    assert_eq!(auth["value"], "REDACTED");
    assert_eq!(json["response"]["status"], 201);
    assert_eq!(json["response"]["statusText"], "Created");
    assert_eq!(
        json["response"]["content"]["text"],
        format!("{{\"received\":{}}}", sends[0].body.len())
    );

    use base64::Engine as _;
    let binary = &entries[1]["request"]["postData"];
    assert_eq!(binary["_encoding"], "base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(binary["text"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, sends[1].body);

    // A selection exports only what it names.
    let one: Value =
        serde_json::from_slice(&export(&["export", "--har", &ids[2], "--store", store_arg]).await)
            .unwrap();
    assert_eq!(one["log"]["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn fixture_export_then_from_file_sends_the_same_requests_again() {
    require_subcommand("export").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let sends = sends();
    let ids = capture_via_cli(&mut app, &store, &sends, &[]).await;

    let fixture = dir.path().join("fixture.json");
    let fixture_arg = fixture.to_str().unwrap();
    export(&[
        "export",
        "--fixture",
        "--no-redact",
        "-o",
        fixture_arg,
        "--store",
        store_arg,
    ])
    .await;

    // Another machine: a fresh store, the app on another port.
    let mut other = App::start().await;
    let fresh = dir.path().join("fresh.db");
    let out = run(&[
        "replay",
        "--from-file",
        fixture_arg,
        "--to",
        &other.port().to_string(),
        "--json",
        "--store",
        fresh.to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), sends.len());
    for ((line, sent), id) in lines.iter().zip(&sends).zip(&ids) {
        assert_eq!(line["original"], id.as_str());
        assert_eq!(line["status"], 201);
        assert_eq!(line["differs"], false, "the app answers as recorded");
        let got = other.next().await;
        assert_eq!(got.uri, sent.path, "in the recorded order");
        assert_eq!(&got.body[..], &sent.body[..]);
        assert_eq!(
            got.all("x-dup"),
            sent.headers
                .iter()
                .filter(|h| h.0 == "x-dup")
                .map(|h| h.1.to_string())
                .collect::<Vec<_>>()
        );
    }
    let listed =
        common::cli::run_json(&["requests", "--json", "--store", fresh.to_str().unwrap()]).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        sends.len(),
        "recorded in the fresh store"
    );

    // The fixture as a test: a response unlike the recorded one fails the run and says how.
    let mut changed: Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    {
        use base64::Engine as _;
        let response = &mut changed["requests"][0]["response"];
        response["status"] = 200.into();
        response["body_base64"] = base64::engine::general_purpose::STANDARD
            .encode(br#"{"received":999}"#)
            .into();
    }
    let changed_path = dir.path().join("changed.json");
    std::fs::write(&changed_path, serde_json::to_vec(&changed).unwrap()).unwrap();
    let out = run(&[
        "replay",
        "--from-file",
        changed_path.to_str().unwrap(),
        "--to",
        &other.port().to_string(),
        "--store",
        fresh.to_str().unwrap(),
    ])
    .await;
    for _ in &sends {
        other.next().await;
    }
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sent_len = sends[0].body.len();
    assert!(
        stdout.contains("\n    status: 200 -> 201\n")
            && stdout.contains(&format!("\n    ~ $.received: 999 -> {sent_len}\n")),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of 4 responses differ from the fixture's"),
        "{stderr}"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{\"not\": \"a fixture\"}").unwrap();
    let out = run(&[
        "replay",
        "--from-file",
        broken.to_str().unwrap(),
        "--store",
        fresh.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a hooktap fixture"));
}

#[tokio::test]
async fn configured_secrets_are_redacted_from_exports_unless_no_redact() {
    require_subcommand("export").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let secret = "whsec_leaked_into_a_body_9f3";
    let body = format!("{{\"debug\":\"key={secret}\"}}");
    let sends = [Send::post("/leak", body.as_bytes()).header("x-echo", secret)];
    capture_via_cli(&mut app, &store, &sends, &[]).await;
    let flag = format!("stripe={secret}");
    for format in ["--har", "--curl", "--fixture"] {
        let out = export(&["export", format, "--verify", &flag, "--store", store_arg]).await;
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains(secret), "{format}: {text}");
        let out = export(&[
            "export",
            format,
            "--no-redact",
            "--verify",
            &flag,
            "--store",
            store_arg,
        ])
        .await;
        assert!(
            String::from_utf8_lossy(&out).contains(secret),
            "{format} --no-redact"
        );
    }
    let har: Value = serde_json::from_slice(
        &export(&["export", "--har", "--verify", &flag, "--store", store_arg]).await,
    )
    .unwrap();
    assert_eq!(
        har["log"]["entries"][0]["request"]["postData"]["text"],
        "{\"debug\":\"key=REDACTED\"}"
    );
}

#[tokio::test]
async fn token_headers_are_redacted_and_redacted_bodies_keep_a_true_length() {
    require_subcommand("export").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let config = dir.path().join("hooktap.toml");
    std::fs::write(
        &config,
        "[[generic]]\nname = \"acme\"\nheader = \"X-Acme-Signature\"\n",
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let mut app = App::start().await;
    let secret = "whsec_leaked_into_a_body_9f3";
    let body = format!("{{\"debug\":\"key={secret}\"}}");
    let tokens = ["glpat-token-1", "api-key-2", "auth-token-3", "acme-sig-4"];
    let sends = [
        Send::post("/leak", body.as_bytes())
            .header("content-type", "application/json")
            .header("x-gitlab-token", tokens[0])
            .header("x-api-key", tokens[1])
            .header("x-auth-token", tokens[2])
            .header("x-acme-signature", tokens[3]),
        Send {
            method: "GET",
            path: "/plain",
            headers: Vec::new(),
            body: Vec::new(),
        },
    ];
    capture_via_cli(&mut app, &store, &sends, &[]).await;
    let flag = format!("stripe={secret}");
    let base = [
        "--verify", &flag, "--config", config_arg, "--store", store_arg,
    ];
    for format in ["--har", "--curl", "--fixture"] {
        let out = export(&[&["export", format][..], &base].concat()).await;
        let text = String::from_utf8_lossy(&out);
        for token in tokens {
            assert!(!text.contains(token), "{format} shows {token}: {text}");
        }
    }
    let har: Value =
        serde_json::from_slice(&export(&[&["export", "--har"][..], &base].concat()).await).unwrap();
    let request = &har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["request"]["url"].as_str().unwrap().ends_with("/leak"))
        .expect("the /leak entry")["request"];
    let text = request["postData"]["text"].as_str().unwrap();
    assert_eq!(text, "{\"debug\":\"key=REDACTED\"}");
    let length = request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "content-length")
        .map(|h| h["value"].as_str().unwrap().to_string());
    assert_eq!(length, Some(text.len().to_string()), "{request}");
    assert_eq!(request["bodySize"], text.len());

    let curl =
        String::from_utf8(export(&[&["export", "--curl"][..], &base].concat()).await).unwrap();
    let commands: Vec<&str> = curl
        .split("\n# ")
        .filter(|c| c.contains(" POST /leak ") || c.contains(" GET /plain "))
        .collect();
    assert_eq!(commands.len(), 2, "{curl}");
    for command in &commands {
        assert!(command.contains("curl -sS"), "{command}");
    }
    let (with_body, without) = if commands[0].contains("/leak") {
        (commands[0], commands[1])
    } else {
        (commands[1], commands[0])
    };
    assert!(with_body.contains("--header 'expect:'"), "{with_body}");
    assert!(
        !without.contains("expect:"),
        "no Expect without a body: {without}"
    );
}
