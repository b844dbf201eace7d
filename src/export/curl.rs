//! `export --curl`: shell commands that send a recorded request again, body byte for byte.

use std::fmt::Write as _;

use crate::exchange::{Exchange, format_time};

/// Headers curl writes itself from the URL and the data, or that do not travel end to end.
const SKIPPED: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];
/// Headers curl adds on its own unless told not to (and `Expect`, with a large body).
const CURL_DEFAULTS: [&str; 2] = ["user-agent", "accept"];
/// Largest body passed as a command-line argument; larger ones go through `printf`, a
/// shell builtin, since one argument may not exceed 128 KiB on Linux.
const MAX_ARG_BODY: usize = 64 * 1024;

/// Quotes `text` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The body as a `printf` format that prints exactly these bytes: printable ASCII as
/// is, everything else as a three-digit octal escape.
fn printf_format(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        match b {
            b'%' => out.push_str("%%"),
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str(r"'\''"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out
}

fn is_plain_text(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let ok = bytes.len() <= MAX_ARG_BODY
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'));
    ok.then_some(text)
}

/// The curl command for `ex` (already redacted as wanted), preceded by a comment line.
pub fn command(ex: &Exchange) -> String {
    let req = &ex.request;
    let has = |name: &str| {
        req.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let body = &req.body.bytes;
    let mut args: Vec<String> = Vec::new();
    let mut prefix = String::new();

    if req.method == "HEAD" {
        args.push("--head".into());
    } else {
        args.push(format!("--request {}", shell_quote(&req.method)));
    }
    args.push(shell_quote(&ex.url()));
    let sends_body = !body.is_empty() || has("content-length") || has("transfer-encoding");
    for name in CURL_DEFAULTS {
        if !has(name) {
            args.push(format!("--header {}", shell_quote(&format!("{name}:"))));
        }
    }
    for (name, value) in &req.headers {
        if SKIPPED.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            continue;
        }
        let value = String::from_utf8_lossy(value);
        let header = if value.is_empty() {
            // `Name;` is curl's way to send a header with an empty value.
            format!("{name};")
        } else {
            format!("{name}: {value}")
        };
        args.push(format!("--header {}", shell_quote(&header)));
    }
    if sends_body && !has("expect") {
        // curl asks `Expect: 100-continue` before a large body.
        args.push("--header 'expect:'".into());
    }
    if sends_body {
        if !has("content-type") {
            // curl would add a form content type to data of its own accord.
            args.push("--header 'Content-Type:'".into());
        }
        match is_plain_text(body) {
            Some(text) => args.push(format!("--data-raw {}", shell_quote(text))),
            None => {
                prefix = format!("printf '{}' | ", printf_format(body));
                args.push("--data-binary @-".into());
            }
        }
    }
    let mut out = format!(
        "# {} {} {} ({})\n{prefix}curl -sS",
        ex.id,
        req.method,
        req.uri.replace('\n', " "),
        format_time(ex.received_at_us)
    );
    for arg in args {
        out.push_str(" \\\n  ");
        out.push_str(&arg);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_escapes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(printf_format(b"a%\\'\x00\xff\n"), r"a%%\\'\''\000\377\012");
    }
}
