//! The inspector's filter language: `key:value` terms and bare words, combined with AND.
//!
//! `method:POST status:5xx path:/stripe sig:invalid source:queued stripe` keeps POSTs
//! answered 5xx whose path contains `/stripe`, with an invalid signature, delivered from
//! the relay's queue, and mentioning "stripe" in the path, a header or the body. A term
//! starting with `-` is negated. Matching is case-insensitive. Statuses use the store's
//! shared [`StatusMatch`], as `requests --status` and the API do.

use crate::exchange::Source;
pub use crate::store::StatusMatch;

use super::row::{Row, SigKind};

/// One term of a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// `method:POST`.
    Method(String),
    /// `status:5xx`.
    Status(StatusMatch),
    /// `path:/stripe`: the path contains this (lowercase).
    Path(String),
    /// `sig:invalid`; `sig:none` for no verdict (`None`).
    Sig(Option<SigKind>),
    /// `source:queued`.
    Source(Source),
    /// A bare word (lowercase): in the path, a header or a body.
    Text(String),
}

/// A parsed filter: every term must hold (negated ones must not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// The terms and whether each is negated.
    pub terms: Vec<(bool, Term)>,
}

impl Filter {
    /// Parses `text`; the error is one sentence naming the bad term.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            let (negated, word) = match word.strip_prefix('-') {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, word),
            };
            terms.push((negated, term(word)?));
        }
        Ok(Self { terms })
    }

    /// True when nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The bare words that are not negated: they need a search of headers and bodies.
    pub fn words(&self) -> Vec<String> {
        self.terms
            .iter()
            .filter_map(|(negated, t)| match t {
                Term::Text(w) if !negated => Some(w.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether `row` passes; `text_hit` says whether the store's search found every
    /// bare word in the row's headers or bodies (`None`: not known yet, the path decides).
    pub fn matches(&self, row: &Row, text_hit: Option<bool>) -> bool {
        self.terms.iter().all(|(negated, t)| {
            let hit = match t {
                Term::Text(w) if !negated => text_hit.unwrap_or(false) || contains(&row.path, w),
                other => holds(other, row),
            };
            hit != *negated
        })
    }
}

/// Whether `hay` contains `lower` (lowercase), ASCII case-insensitively, without
/// making a lowercase copy (this runs for every row on every keystroke).
fn contains(hay: &str, lower: &str) -> bool {
    let needle = lower.as_bytes();
    needle.is_empty()
        || hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

fn holds(term: &Term, row: &Row) -> bool {
    match term {
        Term::Method(m) => row.method.eq_ignore_ascii_case(m),
        // A request still waiting for the app has no status yet, not "no response".
        Term::Status(_) if row.in_flight => false,
        Term::Status(s) => s.holds(row.status),
        Term::Path(p) => contains(&row.path, p),
        Term::Sig(kind) => row.sig.as_ref().map(|s| s.kind) == *kind,
        Term::Source(source) => row.source == *source,
        Term::Text(w) => contains(&row.path, w),
    }
}

fn term(word: &str) -> Result<Term, String> {
    let Some((key, value)) = word.split_once(':') else {
        return Ok(Term::Text(word.to_ascii_lowercase()));
    };
    let value_lc = value.to_ascii_lowercase();
    let empty = |what: &str| format!("{key}: needs a value, e.g. {key}:{what}");
    Ok(match key.to_ascii_lowercase().as_str() {
        "method" if value.is_empty() => return Err(empty("POST")),
        "method" => Term::Method(value.to_ascii_uppercase()),
        "path" if value.is_empty() => return Err(empty("/webhooks")),
        "path" => Term::Path(value_lc),
        "status" => Term::Status(status(&value_lc)?),
        "sig" => Term::Sig(match value_lc.as_str() {
            "valid" | "ok" => Some(SigKind::Valid),
            "invalid" | "bad" => Some(SigKind::Invalid),
            "expired" | "stale" => Some(SigKind::Expired),
            "missing" => Some(SigKind::Missing),
            "nosecret" | "no-secret" | "unchecked" => Some(SigKind::NoSecret),
            "none" => None,
            _ => {
                return Err(format!(
                    "sig:{value} is not a verdict: use valid, invalid, expired, missing, nosecret or none"
                ));
            }
        }),
        "source" => Term::Source(Source::parse(&value_lc).ok_or_else(|| {
            format!("source:{value} is not a source: use local, relay, queued or replay")
        })?),
        // Not a key: a word with a colon in it (a URL, a time).
        _ => Term::Text(word.to_ascii_lowercase()),
    })
}

fn status(value: &str) -> Result<StatusMatch, String> {
    StatusMatch::parse(value)
        .map_err(|_| format!("status:{value} is not a status: use e.g. 404, 5xx, failed or err"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::row;

    #[test]
    fn terms_parse_and_combine() {
        let f = Filter::parse("method:post status:5xx path:/Stripe sig:invalid source:queued evt")
            .unwrap();
        assert_eq!(
            f.terms,
            vec![
                (false, Term::Method("POST".into())),
                (false, Term::Status(StatusMatch::Class(5))),
                (false, Term::Path("/stripe".into())),
                (false, Term::Sig(Some(SigKind::Invalid))),
                (false, Term::Source(Source::Queued)),
                (false, Term::Text("evt".into())),
            ]
        );
        assert_eq!(f.words(), ["evt"]);
        assert!(Filter::parse("").unwrap().is_empty());
        assert_eq!(
            Filter::parse("-status:200").unwrap().terms,
            vec![(true, Term::Status(StatusMatch::Code(200)))]
        );
        assert_eq!(
            Filter::parse("http://x").unwrap().terms,
            vec![(false, Term::Text("http://x".into()))]
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(
            Filter::parse("status:7xx")
                .unwrap_err()
                .contains("status:7xx")
        );
        assert!(Filter::parse("status:abc").unwrap_err().contains("5xx"));
        assert!(Filter::parse("sig:maybe").unwrap_err().contains("invalid"));
        assert!(Filter::parse("source:mars").unwrap_err().contains("queued"));
        assert!(
            Filter::parse("method:")
                .unwrap_err()
                .contains("method:POST")
        );
    }

    #[test]
    fn rows_match_every_term_case_insensitively() {
        let mut r = row(1, "POST", "/webhooks/Stripe", Some(503));
        r.source = Source::Queued;
        let yes = |text: &str| Filter::parse(text).unwrap().matches(&r, None);
        assert!(yes("method:POST status:5xx path:/stripe source:queued"));
        assert!(yes("status:503 status:failed stripe"));
        assert!(yes("path:hooks"), "path matches anywhere in the path");
        assert!(!yes("method:GET"));
        assert!(!yes("status:2xx"));
        assert!(!yes("status:err"));
        assert!(!yes("sig:invalid"));
        assert!(yes("sig:none"));
        assert!(!yes("-source:queued"));
        assert!(
            !yes("github"),
            "a word not in the path, and no search result yet"
        );
        let f = Filter::parse("github").unwrap();
        assert!(
            f.matches(&r, Some(true)),
            "the search found it in a header or body"
        );
    }
}
