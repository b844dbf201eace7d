//! The tunnel's lines in `hooktap listen`'s headless output: its public URLs, and each
//! state change as ngrok's agent prints them (the session opens and keeps the tunnel).

use serde_json::{Value, json};

use crate::tunnel::TunnelEvent;

/// The first lines of `listen --relay`: the public URL; with `--domain` on the relay, the
/// subdomain URL and the `/t/<name>` one, each labelled after the URL (the subdomain one
/// needs wildcard DNS, which a laptop often lacks), the preferred one first.
pub fn url_lines(name: &str, urls: &[String]) -> String {
    match urls {
        [one] => format!("{one}\n"),
        many => many
            .iter()
            .map(|url| format!("{url}  ({})\n", url_label(name, url)))
            .collect(),
    }
}

/// What kind of public URL `url` is.
fn url_label(name: &str, url: &str) -> &'static str {
    if url.ends_with(&format!("/t/{name}")) {
        "path: works without wildcard DNS"
    } else {
        "subdomain"
    }
}

/// The `tunnel` event for `--json`.
pub fn event_json(event: &TunnelEvent) -> Value {
    match event {
        TunnelEvent::Online {
            name,
            public_url,
            public_urls,
            queued,
        } => json!({
            "event": "tunnel", "state": "online", "name": name,
            "public_url": public_url, "public_urls": public_urls, "queued": queued,
        }),
        TunnelEvent::Offline { reason } => {
            json!({"event": "tunnel", "state": "offline", "reason": reason})
        }
        TunnelEvent::Reconnecting { attempt, delay } => json!({
            "event": "tunnel", "state": "reconnecting", "attempt": attempt,
            "delay_ms": delay.as_millis() as u64,
        }),
        TunnelEvent::Refused(message) => {
            json!({"event": "tunnel", "state": "refused", "message": message})
        }
        TunnelEvent::Replaced(message) => {
            json!({"event": "tunnel", "state": "replaced", "message": message})
        }
    }
}

/// The log line for `--no-tui`.
pub fn event_line(event: &TunnelEvent) -> String {
    match event {
        TunnelEvent::Online {
            name,
            public_urls,
            queued,
            ..
        } => {
            let queued = match queued {
                0 => String::new(),
                n => format!("; {n} queued requests arriving"),
            };
            let at = match public_urls.as_slice() {
                [one] => one.clone(),
                many => many
                    .iter()
                    .map(|url| format!("{url} ({})", url_label(name, url)))
                    .collect::<Vec<_>>()
                    .join(" and "),
            };
            format!("hooktap: tunnel online again at {at}{queued}")
        }
        TunnelEvent::Offline { reason } => format!("hooktap: tunnel offline: {reason}"),
        TunnelEvent::Reconnecting { attempt, delay } => format!(
            "hooktap: reconnecting to the relay in {} (attempt {attempt})",
            humantime::format_duration(std::time::Duration::from_millis(delay.as_millis() as u64))
        ),
        TunnelEvent::Refused(message) => {
            format!("hooktap: the relay refused the tunnel: {message}")
        }
        TunnelEvent::Replaced(message) => format!("hooktap: tunnel closed: {message}"),
    }
}

/// The error `listen` exits with (status 1) after an event that stopped the tunnel for
/// good, or `None` when the tunnel goes on.
pub fn fatal(event: &TunnelEvent) -> Option<anyhow::Error> {
    match event {
        TunnelEvent::Refused(message) => {
            Some(anyhow::anyhow!("the relay refused the tunnel: {message}"))
        }
        TunnelEvent::Replaced(message) => Some(anyhow::anyhow!(
            "the tunnel was {message}: stop the other agent or pick another --name"
        )),
        _ => None,
    }
}
