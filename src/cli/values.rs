//! Parsers for flag values (durations, sizes, times, rates): each error names the form
//! to use.

use std::time::Duration;

/// Parses `30s`, `1m`, `500ms`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let duration = humantime::parse_duration(text)
        .map_err(|_| format!("'{text}' is not a duration: use e.g. 30s, 2m or 500ms"))?;
    if duration.is_zero() {
        return Err("the duration must be more than zero".into());
    }
    Ok(duration)
}

/// Parses `--since`: an RFC 3339 time or a span back from now; microseconds since the epoch.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(crate::exchange::unix_micros(time));
    }
    let span = humantime::parse_duration(text).map_err(|_| {
        format!("'{text}' is neither a time (2026-11-24T10:00:00Z) nor a span (15m, 2h)")
    })?;
    let now = std::time::SystemTime::now();
    Ok(crate::exchange::unix_micros(now) - span.as_micros() as i64)
}

/// Parses `10MiB`, `512KiB`, `1GiB`, `10MB`, or a plain byte count.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size: use e.g. 10MiB, 512KiB or 1048576"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(format!("'{text}': unknown unit; use B, KiB, MiB or GiB")),
    };
    number
        .checked_mul(multiplier)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses `--rate`: `5/s`, `5`, `30/m`, `0.5/s`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, per) = match text.split_once('/') {
        Some((n, unit)) => (n.trim(), unit.trim()),
        None => (text, "s"),
    };
    let seconds = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{text}': use a rate like 5/s, 30/m or 100/h")),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a rate: use e.g. 5/s or 30/m"))?;
    if !n.is_finite() || n <= 0.0 {
        return Err("the rate must be more than zero".into());
    }
    Ok(n / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("ten").is_err());
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_since("1970-01-01T00:00:01Z"), Ok(1_000_000));
        assert!(
            parse_since("2h").unwrap() < crate::exchange::unix_micros(std::time::SystemTime::now())
        );
        assert!(parse_since("yesterday-ish").is_err());
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("5/s"), Ok(5.0));
        assert_eq!(parse_rate("2"), Ok(2.0));
        assert_eq!(parse_rate("30/m"), Ok(0.5));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
