//! Human explanations of verdicts, for `hooktap verify` and the detail views.

use std::fmt::Write as _;

use super::Verdict;

/// A few lines saying what the verdict means and, when it is not valid, what to look at.
pub fn explain(verdict: &Verdict) -> String {
    let mut out = String::new();
    match verdict {
        Verdict::Valid { provider } => {
            let _ = writeln!(
                out,
                "valid: the {provider} signature matches the configured secret"
            );
        }
        Verdict::Invalid {
            provider,
            reason,
            header,
            expected,
            received,
            signed,
        } => {
            let _ = writeln!(out, "invalid ({provider}): {reason}");
            if let Some(header) = header {
                let _ = writeln!(out, "  header:   {header}");
            }
            if let Some(expected) = expected {
                let _ = writeln!(out, "  expected: {expected}");
            }
            if let Some(received) = received {
                let _ = writeln!(out, "  received: {received}");
            }
            if let Some(signed) = signed {
                let _ = writeln!(out, "  signed:   {signed}");
            }
        }
        Verdict::Expired {
            provider,
            skew_secs,
            tolerance_secs,
        } => {
            let when = if *skew_secs >= 0 {
                "old"
            } else {
                "in the future"
            };
            let _ = writeln!(
                out,
                "expired ({provider}): the signature is correct, but its timestamp is {}s {when}; the tolerance is {tolerance_secs}s",
                skew_secs.unsigned_abs()
            );
        }
        // Several providers expected (none recognised): their headers joined with `, `.
        Verdict::MissingHeader { provider, header } if header.contains(", ") => {
            let _ = writeln!(
                out,
                "missing header ({provider}): the request carries no signature header; expected one of {header}"
            );
        }
        Verdict::MissingHeader { provider, header } => {
            let _ = writeln!(
                out,
                "missing header ({provider}): the request has no {header} header"
            );
        }
        Verdict::NoSecret { provider } => {
            let _ = writeln!(
                out,
                "no secret: this looks like {provider}; pass --verify {provider}=SECRET (or add it to hooktap.toml) to check it"
            );
        }
    }
    out
}
