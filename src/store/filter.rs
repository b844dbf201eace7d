//! [`Filter`]: the one record filter, shared by `requests`, `replay`, `export`, the API
//! and the inspector's vocabulary (`status:5xx`, `source:queued`, `sig:invalid`): method,
//! status, path, verdict, source, a time range and a cursor, run as SQL by the store and
//! in memory on a record ([`Filter::admits`]).

use rusqlite::types::Value;

use crate::exchange::{Exchange, Source};

/// What to list. The default lists everything, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// At most this many (the newest).
    pub limit: Option<usize>,
    /// Only failed exchanges: no response, or a non-2xx status.
    pub failed: bool,
    /// Only paths starting with this prefix.
    pub path: Option<String>,
    /// Only exchanges received at or after this time (microseconds since the epoch).
    pub since_us: Option<i64>,
    /// Only exchanges received before this time (microseconds since the epoch).
    pub until_us: Option<i64>,
    /// Only this method (case-insensitive).
    pub method: Option<String>,
    /// Only these statuses.
    pub status: Option<StatusMatch>,
    /// Only from this source.
    pub source: Option<Source>,
    /// Only with this signature verdict.
    pub verdict: Option<VerdictMatch>,
    /// Only ids below this one: the cursor of the next page (a listing's last id).
    pub before: Option<u64>,
}

/// What a status filter accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMatch {
    /// One code: `404`.
    Code(u16),
    /// A class: `5xx` (the digit).
    Class(u16),
    /// No response at all: `err`.
    NoResponse,
    /// No response or not 2xx: `failed`.
    Failed,
}

impl StatusMatch {
    /// Parses `404`, `5xx`, `failed` or `err`; the error names the forms.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim().to_ascii_lowercase();
        let bad = || format!("'{value}' is not a status: use e.g. 404, 5xx, failed or err");
        match value.as_str() {
            "err" | "error" | "none" => return Ok(StatusMatch::NoResponse),
            "failed" | "fail" => return Ok(StatusMatch::Failed),
            _ => {}
        }
        if let Some(digit) = value.strip_suffix("xx") {
            return match digit.parse::<u16>() {
                Ok(d @ 1..=5) => Ok(StatusMatch::Class(d)),
                _ => Err(bad()),
            };
        }
        match value.parse::<u16>() {
            Ok(code @ 100..=599) => Ok(StatusMatch::Code(code)),
            _ => Err(bad()),
        }
    }

    /// Whether a record with `status` (`None`: no response) passes.
    pub fn holds(self, status: Option<u16>) -> bool {
        match (self, status) {
            (StatusMatch::Code(c), Some(s)) => s == c,
            (StatusMatch::Class(c), Some(s)) => s / 100 == c,
            (StatusMatch::NoResponse, s) => s.is_none(),
            (StatusMatch::Failed, s) => !matches!(s, Some(200..=299)),
            _ => false,
        }
    }

    fn sql(self, args: &mut Vec<Value>) -> String {
        match self {
            StatusMatch::Code(c) => {
                args.push(Value::Integer(c.into()));
                "status = ?".into()
            }
            StatusMatch::Class(c) => {
                args.push(Value::Integer(i64::from(c) * 100));
                args.push(Value::Integer(i64::from(c) * 100 + 99));
                "status BETWEEN ? AND ?".into()
            }
            StatusMatch::NoResponse => "status IS NULL".into(),
            StatusMatch::Failed => "(status IS NULL OR status < 200 OR status > 299)".into(),
        }
    }
}

/// What a verdict filter accepts: one verdict (by its stored tag), or none recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictMatch {
    /// This verdict: `valid`, `invalid`, `expired`, `missing_header` or `no_secret`.
    Is(&'static str),
    /// No verdict: the request was not checked.
    Unchecked,
}

impl VerdictMatch {
    /// Parses `valid`, `invalid`, `expired`, `missing`, `nosecret` or `none`.
    pub fn parse(value: &str) -> Result<Self, String> {
        Ok(match value.trim().to_ascii_lowercase().as_str() {
            "valid" | "ok" => VerdictMatch::Is("valid"),
            "invalid" | "bad" => VerdictMatch::Is("invalid"),
            "expired" | "stale" => VerdictMatch::Is("expired"),
            "missing" | "missing_header" => VerdictMatch::Is("missing_header"),
            "nosecret" | "no-secret" | "no_secret" => VerdictMatch::Is("no_secret"),
            "none" | "unchecked" => VerdictMatch::Unchecked,
            other => {
                return Err(format!(
                    "'{other}' is not a verdict: use valid, invalid, expired, missing, nosecret or none"
                ));
            }
        })
    }
}

impl std::fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusMatch::Code(c) => write!(f, "{c}"),
            StatusMatch::Class(c) => write!(f, "{c}xx"),
            StatusMatch::NoResponse => f.write_str("err"),
            StatusMatch::Failed => f.write_str("failed"),
        }
    }
}

impl std::fmt::Display for VerdictMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerdictMatch::Is(tag) => f.write_str(tag),
            VerdictMatch::Unchecked => f.write_str("none"),
        }
    }
}

impl Filter {
    /// True when nothing narrows the records down (a limit or cursor aside).
    pub fn is_everything(&self) -> bool {
        let paging = Filter {
            limit: self.limit,
            before: self.before,
            ..Filter::default()
        };
        *self == paging
    }

    /// Whether `ex` passes (for records named by id rather than listed).
    pub fn admits(&self, ex: &Exchange) -> bool {
        (!self.failed || ex.failed())
            && self
                .path
                .as_ref()
                .is_none_or(|p| ex.request.uri.starts_with(p.as_str()))
            && self.since_us.is_none_or(|t| ex.received_at_us >= t)
            && self.until_us.is_none_or(|t| ex.received_at_us < t)
            && self
                .method
                .as_ref()
                .is_none_or(|m| ex.request.method.eq_ignore_ascii_case(m))
            && self.status.is_none_or(|s| s.holds(ex.status()))
            && self.source.is_none_or(|s| ex.source == s)
            && self.verdict.is_none_or(|v| match (v, &ex.verdict) {
                (VerdictMatch::Unchecked, None) => true,
                (VerdictMatch::Is(tag), Some(verdict)) => verdict.tag() == tag,
                _ => false,
            })
            && self
                .before
                .is_none_or(|b| ex.id.to_u64().is_some_and(|id| id < b))
    }

    /// The SQL condition (after `WHERE 1=1`) and its arguments.
    pub(super) fn sql(&self, args: &mut Vec<Value>) -> String {
        let mut sql = String::new();
        if self.failed {
            sql.push_str(" AND (status IS NULL OR status < 200 OR status > 299)");
        }
        if let Some(path) = &self.path {
            sql.push_str(" AND substr(uri, 1, length(?)) = ?");
            args.push(Value::Text(path.clone()));
            args.push(Value::Text(path.clone()));
        }
        if let Some(since) = self.since_us {
            sql.push_str(" AND received_at_us >= ?");
            args.push(Value::Integer(since));
        }
        if let Some(until) = self.until_us {
            sql.push_str(" AND received_at_us < ?");
            args.push(Value::Integer(until));
        }
        if let Some(method) = &self.method {
            sql.push_str(" AND method = ? COLLATE NOCASE");
            args.push(Value::Text(method.clone()));
        }
        if let Some(status) = self.status {
            sql.push_str(" AND ");
            sql.push_str(&status.sql(args));
        }
        if let Some(source) = self.source {
            sql.push_str(" AND source = ?");
            args.push(Value::Text(source.as_str().into()));
        }
        match self.verdict {
            Some(VerdictMatch::Unchecked) => sql.push_str(" AND verdict IS NULL"),
            Some(VerdictMatch::Is(tag)) => {
                sql.push_str(" AND json_extract(verdict, '$.verdict') = ?");
                args.push(Value::Text(tag.into()));
            }
            None => {}
        }
        if let Some(before) = self.before {
            sql.push_str(" AND id < ?");
            args.push(Value::Integer(before as i64));
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_verdicts_parse() {
        assert_eq!(StatusMatch::parse("5XX"), Ok(StatusMatch::Class(5)));
        assert_eq!(StatusMatch::parse("404"), Ok(StatusMatch::Code(404)));
        assert_eq!(StatusMatch::parse("failed"), Ok(StatusMatch::Failed));
        assert!(StatusMatch::parse("9xx").is_err());
        assert!(StatusMatch::parse("600").is_err());
        assert!(StatusMatch::Class(5).holds(Some(503)));
        assert!(!StatusMatch::Class(5).holds(None));
        assert!(StatusMatch::Failed.holds(None));
        assert_eq!(
            VerdictMatch::parse("stale"),
            Ok(VerdictMatch::Is("expired"))
        );
        assert!(VerdictMatch::parse("maybe").is_err());
    }

    #[test]
    fn a_record_is_admitted_by_every_term_or_none() {
        let mut ex = Exchange::for_test("/stripe/hook");
        ex.response = Some(crate::exchange::RecordedResponse {
            status: 502,
            headers: Vec::new(),
            body: Default::default(),
        });
        let mut filter = Filter {
            method: Some("post".into()),
            status: Some(StatusMatch::Class(5)),
            path: Some("/stripe".into()),
            source: Some(Source::Local),
            verdict: Some(VerdictMatch::Unchecked),
            ..Filter::default()
        };
        assert!(filter.admits(&ex), "{ex:?}");
        filter.source = Some(Source::Queued);
        assert!(!filter.admits(&ex));
        assert!(Filter::default().is_everything());
        assert!(!filter.is_everything());
    }
}
