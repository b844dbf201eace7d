//! `export --jsonl`: one request body per line, for jq and pandas
//! (`pd.read_json(path, lines=True)`). JSON bodies go out as they are, only the whitespace
//! between tokens removed so each fits one line; other bodies are skipped and counted.

/// The body as one line of JSON (without the newline), or `None` when it is not JSON
/// (empty, text, binary, or cut at the capture limit).
pub fn line(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    Some(compact(body))
}

/// Valid JSON without the whitespace outside strings: numbers, escapes and key order stay
/// byte for byte, which a parse and re-serialisation would not promise.
fn compact(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_become_one_line_as_they_are() {
        let pretty = b"{\n  \"b\": 1.50,\n  \"a\": \"x \\\" y\\n z\",\n  \"n\": 12345678901234567890123\n}\n";
        assert_eq!(
            line(pretty).unwrap(),
            br#"{"b":1.50,"a":"x \" y\n z","n":12345678901234567890123}"#
        );
        assert_eq!(line(b" [1, 2] ").unwrap(), b"[1,2]");
        assert_eq!(line(br#""a  b""#).unwrap(), br#""a  b""#);
    }

    #[test]
    fn other_bodies_are_not_json() {
        for body in [&b""[..], b"a=1&b=2", b"{\"cut\": ", &[0xff, 0x00]] {
            assert_eq!(line(body), None, "{body:?}");
        }
    }
}
