//! `hooktap export --jsonl`: one request body per line, JSON as it came, others counted.

use crate::common;

use common::App;
use common::cli::run;
use common::replay::{Send, capture_via_cli};
use serde_json::Value;

#[tokio::test]
async fn json_bodies_come_out_one_per_line_and_the_rest_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    let mut app = App::start().await;
    let pretty = b"{\n  \"type\": \"invoice.paid\",\n  \"amount\": 12.50,\n  \"note\": \"two  spaces\\n\"\n}\n";
    let sends = vec![
        Send::post("/a", pretty).header("content-type", "application/json"),
        Send::post("/form", b"a=1&b=2"),
        Send::post("/b", br#"[1, {"k": "v"}]"#),
        Send::post("/empty", b""),
    ];
    capture_via_cli(&mut app, &store, &sends, &[]).await;

    let out = run(&["export", "--jsonl", "--store", store_arg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            r#"[1,{"k":"v"}]"#,
            r#"{"type":"invoice.paid","amount":12.50,"note":"two  spaces\n"}"#,
        ],
        "JSON as it came, only the whitespace between tokens gone"
    );
    for line in &lines {
        serde_json::from_str::<Value>(line).expect("each line is JSON");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 2 of 4 requests"), "{stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");

    // A selection and a file, as the other formats take them.
    let file = dir.path().join("bodies.jsonl");
    let out = run(&[
        "export",
        "--jsonl",
        "--path",
        "/a",
        "-o",
        file.to_str().unwrap(),
        "--store",
        store_arg,
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "nothing skipped, nothing said");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.lines().count(), 1);
    assert!(written.ends_with("}\n"));
}
