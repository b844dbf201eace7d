//! The log subscriber: `HOOKTAP_LOG` (tracing's filter syntax: `debug`,
//! `hooktap::relay=debug,warn`) picks what goes to stderr, one line per event.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter for `spec` (the value of `HOOKTAP_LOG`), or `default` when it is unset or
/// not valid.
pub fn filter(spec: Option<&str>, default: &str) -> EnvFilter {
    spec.and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default))
}

/// Installs the subscriber: `HOOKTAP_LOG`, else `default` (`info` for the relay, `warn`
/// for the other commands); colours only on a terminal.
pub fn init(default: &str) {
    let spec = std::env::var("HOOKTAP_LOG").ok();
    tracing_subscriber::fmt()
        .with_env_filter(filter(spec.as_deref(), default))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
