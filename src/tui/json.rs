//! Syntax tags for pretty-printed JSON (keys, strings, numbers, literals), so the detail
//! pane can colour a body without re-parsing it on every frame.

use super::tone::{Line, Tone};

/// Tags pretty-printed JSON: keys, strings, numbers, literals, punctuation.
pub fn json_lines(pretty: &str) -> Vec<Line> {
    pretty.lines().map(json_line).collect()
}

fn json_line(line: &str) -> Line {
    let mut out: Line = Vec::new();
    let mut rest = line;
    let push = |out: &mut Line, tone: Tone, text: &str| match out.last_mut() {
        Some((t, s)) if *t == tone => s.push_str(text),
        _ => out.push((tone, text.to_string())),
    };
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            let end = string_end(rest);
            let (text, after) = rest.split_at(end);
            let tone = if after.trim_start().starts_with(':') {
                Tone::Key
            } else {
                Tone::Str
            };
            push(&mut out, tone, text);
            rest = after;
        } else if c == '-' || c.is_ascii_digit() {
            let end = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || "+-.".contains(ch)))
                .unwrap_or(rest.len());
            push(&mut out, Tone::Num, &rest[..end]);
            rest = &rest[end..];
        } else if let Some(word) = ["true", "false", "null"]
            .iter()
            .find(|w| rest.starts_with(**w))
        {
            push(&mut out, Tone::Lit, word);
            rest = &rest[word.len()..];
        } else {
            let len = c.len_utf8();
            push(&mut out, Tone::Plain, &rest[..len]);
            rest = &rest[len..];
        }
    }
    out
}

/// The byte length of the JSON string at the start of `text`, quotes included.
fn string_end(text: &str) -> usize {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return i + 1,
            _ => escaped = false,
        }
    }
    text.len()
}
