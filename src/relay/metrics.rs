//! The relay's counters and their Prometheus text rendering (`GET /_hooktap/metrics`).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters, updated lock-free on the request path.
#[derive(Default)]
pub struct Metrics {
    /// Responses by status class, 1xx to 5xx.
    pub responses: [AtomicU64; 5],
    /// Request body bytes received from senders.
    pub bytes_in: Arc<AtomicU64>,
    /// Response body bytes sent to senders.
    pub bytes_out: Arc<AtomicU64>,
    /// Tunnels accepted since start.
    pub tunnels_opened: AtomicU64,
    /// Tunnels refused since start.
    pub tunnels_refused: AtomicU64,
    /// Sender requests refused for a head another parser could read differently.
    pub malformed: AtomicU64,
    /// Sender bodies that missed their read deadline (408).
    pub body_timeouts: AtomicU64,
    /// Requests and handshakes refused for a per-address limit (429).
    pub peer_limited: AtomicU64,
}

impl Metrics {
    /// Counts one response.
    pub fn count_status(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self, tunnels_online: usize, queue_depth: u64) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        };
        gauge(
            "hooktap_tunnels_online",
            "gauge",
            "Agents connected now.",
            tunnels_online as u64,
        );
        gauge(
            "hooktap_queue_depth",
            "gauge",
            "Requests held for offline agents.",
            queue_depth,
        );
        gauge(
            "hooktap_tunnels_opened_total",
            "counter",
            "Tunnels accepted since start.",
            self.tunnels_opened.load(Ordering::Relaxed),
        );
        gauge(
            "hooktap_tunnels_refused_total",
            "counter",
            "Tunnels refused since start.",
            self.tunnels_refused.load(Ordering::Relaxed),
        );
        gauge(
            "hooktap_malformed_requests_total",
            "counter",
            "Requests refused for a head another parser could read differently.",
            self.malformed.load(Ordering::Relaxed),
        );
        gauge(
            "hooktap_body_timeouts_total",
            "counter",
            "Request bodies that missed their read deadline (408).",
            self.body_timeouts.load(Ordering::Relaxed),
        );
        gauge(
            "hooktap_peer_limited_total",
            "counter",
            "Requests and tunnel handshakes refused for a per-address limit (429).",
            self.peer_limited.load(Ordering::Relaxed),
        );
        gauge(
            "hooktap_request_bytes_total",
            "counter",
            "Request body bytes received from senders.",
            self.bytes_in.load(Ordering::Relaxed),
        );
        gauge(
            "hooktap_response_bytes_total",
            "counter",
            "Response body bytes sent to senders.",
            self.bytes_out.load(Ordering::Relaxed),
        );
        out.push_str("# HELP hooktap_requests_total Requests answered, by status class.\n");
        out.push_str("# TYPE hooktap_requests_total counter\n");
        for (i, count) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "hooktap_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// The queue's gauges beyond its depth, in the same text format.
pub fn render_queue(queued_bytes: u64, dead_letters: u64) -> String {
    format!(
        "# HELP hooktap_queue_bytes Body bytes held (and reserved) for offline agents.\n\
         # TYPE hooktap_queue_bytes gauge\nhooktap_queue_bytes {queued_bytes}\n\
         # HELP hooktap_queue_dead_letters Queued requests kept aside after too many failed deliveries.\n\
         # TYPE hooktap_queue_dead_letters gauge\nhooktap_queue_dead_letters {dead_letters}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.count_status(200);
        metrics.count_status(204);
        metrics.count_status(502);
        metrics.body_timeouts.fetch_add(1, Ordering::Relaxed);
        let text = metrics.render(3, 7);
        assert!(text.contains("hooktap_body_timeouts_total 1\n"));
        assert!(text.contains("hooktap_tunnels_online 3\n"));
        assert!(text.contains("hooktap_queue_depth 7\n"));
        assert!(text.contains("hooktap_requests_total{class=\"2xx\"} 2\n"));
        assert!(text.contains("hooktap_requests_total{class=\"5xx\"} 1\n"));
    }
}
