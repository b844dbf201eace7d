//! Exports of recorded exchanges: HAR 1.2, curl commands, replayable fixtures and request
//! bodies as JSON lines, each written one record at a time so memory stays bounded however
//! many are exported.

pub mod curl;
pub mod fixture;
pub mod har;
pub mod jsonl;
pub mod redact;

use std::io::Write;

use crate::exchange::ExchangeId;
use crate::select::{Records, lookup_error};

use redact::Redactor;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// HAR 1.2 JSON.
    Har,
    /// Shell commands running curl.
    Curl,
    /// hooktap's replayable fixture JSON.
    Fixture,
    /// One JSON request body per line (JSON Lines).
    Jsonl,
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Records left out: with `Jsonl`, those whose body is not JSON.
    pub skipped: usize,
}

/// Writes the exchanges `ids` (in that order) from `records` to `out` in `format`.
pub fn write(
    format: Format,
    records: &impl Records,
    ids: &[ExchangeId],
    redactor: &Redactor,
    out: &mut impl Write,
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    match format {
        Format::Har => out.write_all(har::prefix().as_bytes())?,
        Format::Fixture => out.write_all(fixture::prefix().as_bytes())?,
        Format::Curl => out.write_all(b"#!/bin/sh\n# Written by `hooktap export --curl`.\n")?,
        Format::Jsonl => {}
    }
    for (i, id) in ids.iter().enumerate() {
        let ex = redactor.exchange(&records.get(id.as_str()).map_err(lookup_error)?);
        match format {
            Format::Har => {
                if i > 0 {
                    out.write_all(b",")?;
                }
                // Serialise first: a write error (a closed pipe) then stays an io::Error.
                out.write_all(&serde_json::to_vec(&har::entry(&ex))?)?;
            }
            Format::Fixture => {
                if i > 0 {
                    out.write_all(b",\n")?;
                }
                out.write_all(&serde_json::to_vec(&fixture::entry(&ex))?)?;
            }
            Format::Curl => {
                out.write_all(b"\n")?;
                out.write_all(curl::command(&ex).as_bytes())?;
            }
            Format::Jsonl => match jsonl::line(&ex.request.body.bytes) {
                Some(mut line) => {
                    line.push(b'\n');
                    out.write_all(&line)?;
                }
                None => written.skipped += 1,
            },
        }
    }
    match format {
        Format::Har => out.write_all(har::SUFFIX.as_bytes())?,
        Format::Fixture => out.write_all(fixture::SUFFIX.as_bytes())?,
        Format::Curl | Format::Jsonl => {}
    }
    out.flush()?;
    Ok(written)
}
