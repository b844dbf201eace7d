//! The log subscriber: `HOOKTAP_LOG` (tracing's filter syntax: `debug`,
//! `hooktap::relay=debug,warn`) picks what goes to stderr, one line per event.
//!
//! No level shows a token or a secret. hooktap's own events never carry one; some libraries
//! would: tungstenite traces the WebSocket handshake request byte for byte, the agent's
//! `Authorization: Bearer <token>` included. Those targets are capped below whatever
//! `HOOKTAP_LOG` asks for.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Caps applied after `HOOKTAP_LOG`, overriding any directive for the same target.
pub const CAPS: [&str; 2] = ["tungstenite=debug", "tokio_tungstenite=debug"];

/// The filter for `spec` (the value of `HOOKTAP_LOG`), or `default` when it is unset or
/// not valid, with [`CAPS`] on top.
pub fn filter(spec: Option<&str>, default: &str) -> EnvFilter {
    let mut filter = spec
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    for cap in CAPS {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
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
