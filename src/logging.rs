//! The log subscriber: `HOOKTAP_LOG` (tracing's filter syntax: `debug`,
//! `hooktap::relay=debug,warn`) picks what goes to stderr, one line per event.
//!
//! No level shows a token or a secret. hooktap's own events never carry one; some libraries
//! would: tungstenite traces the WebSocket handshake request byte for byte, the agent's
//! `Authorization: Bearer <token>` included. Those targets are capped below whatever
//! `HOOKTAP_LOG` asks for (a cap only lowers: it never shows what the filter would not).

use std::io::IsTerminal;

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Targets whose `trace` events are never shown, whatever `HOOKTAP_LOG` says.
pub const SECRET_TRACES: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// The filter for `spec` (the value of `HOOKTAP_LOG`), or `default` when it is unset or
/// not valid.
pub fn filter(spec: Option<&str>, default: &str) -> EnvFilter {
    spec.and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(default))
}

/// False for the events that could carry a secret (a trace of [`SECRET_TRACES`]).
pub fn shown(meta: &Metadata<'_>) -> bool {
    !(*meta.level() == Level::TRACE
        && SECRET_TRACES.iter().any(|target| {
            meta.target()
                .strip_prefix(target)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        }))
}

/// Installs the subscriber: `HOOKTAP_LOG`, else `default` (`info` for the relay, `warn`
/// for the other commands), minus what [`shown`] refuses; colours only on a terminal.
pub fn init(default: &str) {
    let spec = std::env::var("HOOKTAP_LOG").ok();
    let filter = filter(spec.as_deref(), default).and(filter_fn(shown));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(layer, filter))
        .init();
}

/// [`init`], writing to `file` instead of stderr: the terminal UI owns the screen, and
/// a log line on stderr would scribble over it.
pub fn init_file(default: &str, file: std::fs::File) {
    let spec = std::env::var("HOOKTAP_LOG").ok();
    let filter = filter(spec.as_deref(), default).and(filter_fn(shown));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false);
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(layer, filter))
        .init();
}

/// Where the terminal UI logs: `hooktap-ui.log` in the temporary folder.
pub fn ui_log_path() -> std::path::PathBuf {
    std::env::temp_dir().join("hooktap-ui.log")
}
