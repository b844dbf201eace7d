//! The record filter's flags, shared by `requests`, `replay` and `export`: each becomes a
//! field of the store's one [`Filter`].

use clap::Args;

use super::values::parse_since;
use crate::exchange::Source;
use crate::store::{Filter, StatusMatch, VerdictMatch};

/// Which recorded requests to keep.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only failed requests: no response, or a status outside 200-299.
    #[arg(long)]
    pub failed: bool,

    /// Only requests whose path starts with P (e.g. /webhooks).
    #[arg(long, value_name = "P")]
    pub path: Option<String>,

    /// Only requests received since T: a time (2026-11-24T10:00:00Z) or a span back from
    /// now (15m, 2h, 1day).
    #[arg(long, value_name = "T", value_parser = parse_since)]
    pub since: Option<i64>,

    /// Only requests received before T (the same forms as --since).
    #[arg(long, value_name = "T", value_parser = parse_since)]
    pub until: Option<i64>,

    /// Only this method (POST, PUT…).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,

    /// Only these statuses: a code (404), a class (5xx), `failed` or `err` (no response).
    #[arg(long, value_name = "STATUS", value_parser = StatusMatch::parse)]
    pub status: Option<StatusMatch>,

    /// Only from this source: local, relay, queued (delivered late by the relay) or replay.
    #[arg(long, value_name = "SOURCE", value_parser = Source::parse_typed)]
    pub source: Option<Source>,

    /// Only with this signature verdict: valid, invalid, expired, missing, nosecret or
    /// none (not checked).
    #[arg(long, value_name = "VERDICT", value_parser = VerdictMatch::parse)]
    pub verdict: Option<VerdictMatch>,
}

impl FilterArgs {
    /// The filter these flags describe.
    pub fn filter(&self) -> Filter {
        Filter {
            failed: self.failed,
            path: self.path.clone(),
            since_us: self.since,
            until_us: self.until,
            method: self.method.clone(),
            status: self.status,
            source: self.source,
            verdict: self.verdict,
            ..Filter::default()
        }
    }

    /// The flags given, as typed (for "no requests match …").
    pub fn describe(&self) -> Vec<String> {
        let mut given = Vec::new();
        if self.failed {
            given.push("--failed".to_string());
        }
        let time = crate::exchange::format_time;
        let flags = [
            ("--path", self.path.clone()),
            ("--since", self.since.map(time)),
            ("--until", self.until.map(time)),
            ("--method", self.method.clone()),
            ("--status", self.status.map(|s| s.to_string())),
            ("--source", self.source.map(|s| s.as_str().to_string())),
            ("--verdict", self.verdict.map(|v| v.to_string())),
        ];
        for (flag, value) in flags {
            if let Some(value) = value {
                given.push(format!("{flag} {value}"));
            }
        }
        given
    }
}
