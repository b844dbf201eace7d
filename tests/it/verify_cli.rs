//! `hooktap verify --request FILE --at T` gives every SDK vector its expected verdict and
//! exit code, and reads secrets from hooktap.toml by environment variable.

use crate::common::sigvectors;

use std::process::{Command, Output};

use sigvectors::{as_vector_verdict, assert_all_passed, cases};

fn hooktap(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_hooktap"))
            .args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .env("HOOKTAP_STORE", dir.join("none.db"))
            .output()
            .expect("the hooktap binary runs")
    };
    let output = run();
    // The shared target dir may briefly hold another worktree's binary: retry once.
    if String::from_utf8_lossy(&output.stderr).contains("unrecognized subcommand") {
        return run();
    }
    output
}

#[test]
fn every_vector_verifies_through_the_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for case in cases() {
        let file = dir.path().join(format!("{}.http", case.id));
        std::fs::write(&file, case.raw()).expect("write the request");
        let flag = format!("{}={}", case.provider, case.secret);
        let at = case.now.to_string();
        let mut args = vec!["verify", "--request", file.to_str().expect("utf-8 path")];
        args.extend(["--verify", &flag, "--at", &at, "--json"]);
        if let Some(url) = &case.url {
            args.extend(["--url", url]);
        }
        let output = hooktap(&args, dir.path(), &[]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let json: serde_json::Value = match serde_json::from_str(stdout.trim()) {
            Ok(json) => json,
            Err(_) => {
                failures.push(format!(
                    "{}: no JSON on stdout: {stdout} {:?}",
                    case.id, output
                ));
                continue;
            }
        };
        let label = json["verdict"]["verdict"]
            .as_str()
            .unwrap_or("none")
            .replace('_', " ");
        let got = as_vector_verdict(&label).to_string();
        let code = output.status.code();
        let want_code = if case.expected == "valid" { 0 } else { 1 };
        if got != case.expected || code != Some(want_code) {
            failures.push(format!(
                "{}: expected {} (exit {want_code}), got {got} (exit {code:?}): {stdout}",
                case.id, case.expected
            ));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stdout.contains(&case.secret) && !stderr.contains(&case.secret),
            "{}: the secret was printed",
            case.id
        );
    }
    assert_all_passed(&failures);
}

#[test]
fn secrets_come_from_the_config_file_by_environment_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let case = cases()
        .into_iter()
        .find(|c| c.id == "stripe-expired")
        .expect("the vector exists");
    std::fs::write(
        dir.path().join("hooktap.toml"),
        "[secrets]\nstripe = { env = \"HOOKTAP_TEST_STRIPE\" }\n",
    )
    .expect("write config");
    let file = dir.path().join("req.http");
    std::fs::write(&file, case.raw()).expect("write the request");
    let file = file.to_str().expect("utf-8 path");
    let output = hooktap(
        &["verify", "--request", file, "--at", "1750000000"],
        dir.path(),
        &[("HOOKTAP_TEST_STRIPE", case.secret.as_str())],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stdout.contains("expired (stripe)") && stdout.contains("301s old"),
        "{stdout}"
    );
    assert!(!stdout.contains(&case.secret));

    // The same file, checked just after signing: valid, exit 0.
    let output = hooktap(
        &["verify", "--request", file, "--at", "1749999700"],
        dir.path(),
        &[("HOOKTAP_TEST_STRIPE", case.secret.as_str())],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    // Variable unset: one sentence naming the fix, exit 2.
    let output = hooktap(&["verify", "--request", file], dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr.contains("HOOKTAP_TEST_STRIPE") && stderr.contains("is not set"),
        "{stderr}"
    );
}

#[test]
fn bad_secrets_are_refused_without_echoing_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("req.http");
    std::fs::write(&file, "POST / HTTP/1.1\r\n\r\n").expect("write");
    let file = file.to_str().expect("utf-8 path");
    for (flag, needle) in [
        ("stripe=sk_live_SECRETVALUE", "whsec_"),
        ("nosuch=SECRETVALUE", "unknown provider 'nosuch'"),
        ("SECRETVALUE", "PROVIDER=SECRET"),
    ] {
        let output = hooktap(
            &["verify", "--request", file, "--verify", flag],
            dir.path(),
            &[],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}: {output:?}");
        assert!(stderr.contains(needle), "{flag}: {stderr}");
        assert!(
            !stderr.contains("SECRETVALUE"),
            "{flag}: the secret was echoed: {stderr}"
        );
    }
    let help = hooktap(&["verify", "--help"], dir.path(), &[]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--verify <PROVIDER=SECRET>"));
}
