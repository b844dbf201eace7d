//! Comparing two exchanges: status, headers and bodies, JSON compared structurally, as a
//! readable diff (`hooktap diff`, the "differs" column of `replay`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::exchange::{Body, Exchange, Header, RecordedResponse, header_value};

/// Headers that change on every request and say nothing about the app's behaviour.
const VOLATILE_HEADERS: [&str; 2] = ["date", "content-length"];
/// Largest number of lines on each side that the text diff aligns; beyond it only the
/// sizes are compared.
const MAX_DIFF_LINES: usize = 2000;

/// How two bodies compare.
#[derive(Debug, PartialEq)]
pub enum BodyDiff {
    /// Same bytes, or the same JSON value.
    Same,
    /// Both JSON, different values: one line per changed path.
    Json(Vec<String>),
    /// Both text: a line diff (`-`/`+`/` ` prefixed).
    Text(Vec<String>),
    /// Binary or too large to align: one sentence.
    Other(String),
}

fn as_json(body: &Body, content_type: Option<&str>) -> Option<Value> {
    let looks_json = content_type.is_some_and(|ct| ct.contains("json"))
        || matches!(body.bytes.first(), Some(b'{' | b'['));
    if !looks_json {
        return None;
    }
    serde_json::from_slice(&body.bytes).ok()
}

/// Compares two bodies; JSON on both sides is compared as values, so key order and
/// whitespace do not count.
pub fn diff_bodies(a: &Body, a_type: Option<&str>, b: &Body, b_type: Option<&str>) -> BodyDiff {
    if a.bytes == b.bytes && a.size == b.size {
        return BodyDiff::Same;
    }
    if let (Some(x), Some(y)) = (as_json(a, a_type), as_json(b, b_type)) {
        let mut lines = Vec::new();
        json_changes("$", &x, &y, &mut lines);
        return if lines.is_empty() {
            BodyDiff::Same
        } else {
            BodyDiff::Json(lines)
        };
    }
    match (std::str::from_utf8(&a.bytes), std::str::from_utf8(&b.bytes)) {
        (Ok(x), Ok(y)) => {
            let (xs, ys): (Vec<&str>, Vec<&str>) = (x.lines().collect(), y.lines().collect());
            if xs.len() <= MAX_DIFF_LINES && ys.len() <= MAX_DIFF_LINES {
                BodyDiff::Text(line_diff(&xs, &ys))
            } else {
                BodyDiff::Other(format!("{} vs {} bytes of text", x.len(), y.len()))
            }
        }
        _ => {
            let first = a
                .bytes
                .iter()
                .zip(&b.bytes)
                .position(|(x, y)| x != y)
                .unwrap_or(a.bytes.len().min(b.bytes.len()));
            BodyDiff::Other(format!(
                "{} vs {} bytes, first difference at byte {first}",
                a.size, b.size
            ))
        }
    }
}

fn json_changes(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let sub = format!("{path}.{key}");
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => json_changes(&sub, u, v, out),
                    (Some(u), None) => out.push(format!("- {sub}: {u}")),
                    (None, Some(v)) => out.push(format!("+ {sub}: {v}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let sub = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(v)) => json_changes(&sub, u, v, out),
                    (Some(u), None) => out.push(format!("- {sub}: {u}")),
                    (None, Some(v)) => out.push(format!("+ {sub}: {v}")),
                    (None, None) => {}
                }
            }
        }
        _ if a != b => out.push(format!("~ {path}: {a} -> {b}")),
        _ => {}
    }
}

/// A line diff by longest common subsequence: unchanged lines start with two spaces,
/// removed with `- `, added with `+ `.
fn line_diff(a: &[&str], b: &[&str]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[at(i, j + 1)] >= lcs[at(i + 1, j)]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out
}

/// Header lines present on one side only (volatile ones such as `Date` left out).
fn header_changes(a: &[Header], b: &[Header]) -> Vec<String> {
    let show = |(n, v): &Header| format!("{n}: {}", String::from_utf8_lossy(v));
    let keep = |(n, _): &&Header| !VOLATILE_HEADERS.contains(&n.to_ascii_lowercase().as_str());
    let xs: Vec<String> = a.iter().filter(keep).map(show).collect();
    let ys: Vec<String> = b.iter().filter(keep).map(show).collect();
    let mut out: Vec<String> = xs
        .iter()
        .filter(|x| !ys.contains(x))
        .map(|x| format!("- {x}"))
        .collect();
    out.extend(
        ys.iter()
            .filter(|y| !xs.contains(y))
            .map(|y| format!("+ {y}")),
    );
    out
}

/// True when the responses differ in status or body (JSON compared structurally);
/// headers are not counted, since dates and server details change on every answer.
pub fn responses_differ(a: Option<&RecordedResponse>, b: Option<&RecordedResponse>) -> bool {
    match (a, b) {
        (None, None) => false,
        (Some(x), Some(y)) => {
            x.status != y.status
                || diff_bodies(
                    &x.body,
                    header_value(&x.headers, "content-type"),
                    &y.body,
                    header_value(&y.headers, "content-type"),
                ) != BodyDiff::Same
        }
        _ => true,
    }
}

/// Most body lines [`response_changes`] lists; the rest are counted.
const MAX_CHANGE_LINES: usize = 20;

/// What differs between two responses, one line each: the status, then the body's changed
/// JSON paths or changed lines (unchanged lines left out), or one sentence for binary
/// bodies. Empty when they do not differ as [`responses_differ`] counts it.
pub fn response_changes(a: Option<&RecordedResponse>, b: Option<&RecordedResponse>) -> Vec<String> {
    let status = |r: Option<&RecordedResponse>| {
        r.map_or_else(|| "no response".to_string(), |r| r.status.to_string())
    };
    let mut out = Vec::new();
    if a.map(|r| r.status) != b.map(|r| r.status) {
        out.push(format!("status: {} -> {}", status(a), status(b)));
    }
    let (Some(x), Some(y)) = (a, b) else {
        return out;
    };
    let lines = match diff_bodies(
        &x.body,
        header_value(&x.headers, "content-type"),
        &y.body,
        header_value(&y.headers, "content-type"),
    ) {
        BodyDiff::Same => return out,
        BodyDiff::Json(lines) => lines,
        BodyDiff::Text(lines) => {
            let changed: Vec<String> = lines.into_iter().filter(|l| !l.starts_with("  ")).collect();
            if changed.is_empty() {
                vec!["body: differs in line endings or a final newline".into()]
            } else {
                changed
            }
        }
        BodyDiff::Other(sentence) => vec![format!("body: differs ({sentence})")],
    };
    let more = lines.len().saturating_sub(MAX_CHANGE_LINES);
    out.extend(lines.into_iter().take(MAX_CHANGE_LINES));
    if more > 0 {
        out.push(format!("… and {more} more changed lines"));
    }
    out
}

fn section(out: &mut String, title: &str, lines: &[String]) {
    if lines.is_empty() {
        let _ = writeln!(out, "{title}: same");
    } else {
        let _ = writeln!(out, "{title}:");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
}

fn body_section(out: &mut String, title: &str, diff: BodyDiff) {
    match diff {
        BodyDiff::Same => section(out, title, &[]),
        BodyDiff::Json(lines) | BodyDiff::Text(lines) => section(out, title, &lines),
        BodyDiff::Other(sentence) => {
            let _ = writeln!(out, "{title}: differs ({sentence})");
        }
    }
}

/// The readable diff of `b` against `a`.
pub fn render(a: &Exchange, b: &Exchange) -> String {
    let mut out = format!("--- {} {} {}\n", a.id, a.request.method, a.request.uri);
    let _ = writeln!(out, "+++ {} {} {}", b.id, b.request.method, b.request.uri);
    let status = |ex: &Exchange| {
        ex.status()
            .map_or_else(|| "no response".to_string(), |s| s.to_string())
    };
    if status(a) == status(b) {
        let _ = writeln!(out, "status: same ({})", status(a));
    } else {
        let _ = writeln!(out, "status: {} -> {}", status(a), status(b));
    }
    if a.request.method != b.request.method || a.request.uri != b.request.uri {
        let _ = writeln!(
            out,
            "request line: {} {} -> {} {}",
            a.request.method, a.request.uri, b.request.method, b.request.uri
        );
    }
    section(
        &mut out,
        "request headers",
        &header_changes(&a.request.headers, &b.request.headers),
    );
    body_section(
        &mut out,
        "request body",
        diff_bodies(
            &a.request.body,
            a.request.header("content-type"),
            &b.request.body,
            b.request.header("content-type"),
        ),
    );
    let empty = RecordedResponse {
        status: 0,
        headers: Vec::new(),
        body: Body::default(),
    };
    let (ra, rb) = (
        a.response.as_ref().unwrap_or(&empty),
        b.response.as_ref().unwrap_or(&empty),
    );
    section(
        &mut out,
        "response headers",
        &header_changes(&ra.headers, &rb.headers),
    );
    body_section(
        &mut out,
        "response body",
        diff_bodies(
            &ra.body,
            header_value(&ra.headers, "content-type"),
            &rb.body,
            header_value(&rb.headers, "content-type"),
        ),
    );
    for (label, ex) in [("a", a), ("b", b)] {
        if let Some(error) = &ex.error {
            let _ = writeln!(out, "error ({label}): {error}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_compared_structurally() {
        let a = Body::full(br#"{"a":1,"b":[1,2],"c":"x"}"#.to_vec());
        let same = Body::full(br#"{ "c":"x", "b":[1,2], "a":1 }"#.to_vec());
        let other = Body::full(br#"{"a":2,"b":[1],"d":true}"#.to_vec());
        assert_eq!(diff_bodies(&a, None, &same, None), BodyDiff::Same);
        assert_eq!(
            diff_bodies(&a, None, &other, None),
            BodyDiff::Json(vec![
                "~ $.a: 1 -> 2".into(),
                "- $.b[1]: 2".into(),
                "- $.c: \"x\"".into(),
                "+ $.d: true".into(),
            ])
        );
    }

    #[test]
    fn response_changes_name_the_status_and_the_changed_paths() {
        let response = |status, body: &[u8]| RecordedResponse {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: Body::full(body.to_vec()),
        };
        let a = response(200, br#"{"ok":true,"n":1}"#);
        let b = response(500, br#"{"ok":false,"n":1}"#);
        assert_eq!(
            response_changes(Some(&a), Some(&b)),
            ["status: 200 -> 500", "~ $.ok: true -> false"]
        );
        assert!(response_changes(Some(&a), Some(&a.clone())).is_empty());
        assert_eq!(
            response_changes(Some(&a), None),
            ["status: 200 -> no response"]
        );
        let text = |body: &[u8]| RecordedResponse {
            status: 200,
            headers: Vec::new(),
            body: Body::full(body.to_vec()),
        };
        assert_eq!(
            response_changes(Some(&text(b"a\nb\n")), Some(&text(b"a\nc\n"))),
            ["+ c", "- b"]
        );
    }

    #[test]
    fn text_gets_a_line_diff() {
        let a = Body::full(b"one\ntwo\nthree\n".to_vec());
        let b = Body::full(b"one\n2\nthree\nfour\n".to_vec());
        assert_eq!(
            diff_bodies(&a, None, &b, None),
            BodyDiff::Text(vec![
                "  one".into(),
                "+ 2".into(),
                "- two".into(),
                "  three".into(),
                "+ four".into(),
            ])
        );
    }
}
