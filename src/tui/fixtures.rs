//! Records with fixed ids and times for the inspector's tests.

use crate::exchange::{Body, Exchange, ExchangeId, RecordedRequest, RecordedResponse, Source};
use crate::signature::Verdict;

use super::app::{HeaderInfo, Row, TunnelState};
use super::writer::{OpenBy, WriterInfo};

/// 2026-12-01T11:02:13.204Z in µs.
pub const T0: i64 = 1_796_122_933_204_000;

/// The tests' clock: 40 s after [`T0`].
pub const NOW: i64 = T0 + 40_000_000;

/// The id for record `n` (sortable: later `n`, later id).
pub fn id(n: u64) -> ExchangeId {
    ExchangeId::from_u64(((T0 as u64 / 1000) << 18) + n)
}

/// A record: `n` seconds after [`T0`].
pub fn exchange(n: u64, method: &str, path: &str, status: Option<u16>) -> Exchange {
    Exchange {
        id: id(n),
        received_at_us: T0 + n as i64 * 1_000_000,
        source: Source::Local,
        public_url: None,
        target: format!("http://127.0.0.1:5000{path}"),
        request: RecordedRequest {
            method: method.into(),
            uri: path.into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                ("host".into(), b"127.0.0.1:4747".to_vec()),
                ("content-type".into(), b"application/json".to_vec()),
            ],
            body: Body::full(
                br#"{"id":"evt_1","type":"charge.succeeded","data":{"amount":2000,"paid":true}}"#
                    .to_vec(),
            ),
        },
        response: status.map(|status| RecordedResponse {
            status,
            headers: vec![("content-type".into(), b"text/plain".to_vec())],
            body: Body::full(b"ok".to_vec()),
        }),
        ttfb_us: Some(2_500),
        duration_us: 3_200,
        error: status
            .is_none()
            .then(|| "the app at 127.0.0.1:5000 refused the connection".into()),
        replay_of: None,
        verdict: None,
    }
}

/// The row of [`exchange`].
pub fn row(n: u64, method: &str, path: &str, status: Option<u16>) -> Row {
    Row::from_exchange(&exchange(n, method, path, status))
}

/// An invalid Stripe signature.
pub fn invalid_stripe() -> Verdict {
    Verdict::Invalid {
        provider: "stripe".into(),
        reason: "no v1 signature matches the configured secret".into(),
        header: Some("stripe-signature".into()),
        expected: Some(
            "v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd".into(),
        ),
        received: Some(
            "v1=9f3c11d0b2e6a4c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5".into(),
        ),
        signed: Some("\"{t}.{body}\" with t=1796122933, body 72 bytes".into()),
    }
}

/// The header of a viewer.
pub fn viewer_header() -> HeaderInfo {
    HeaderInfo {
        title: "viewer of /tmp/hooktap.db".into(),
        public_urls: Vec::new(),
        target: None,
        tunnel: TunnelState::Viewer,
        queued_delivered: 0,
        dropped: 0,
        notice: None,
        // Seen committing 3 s before [`NOW`].
        writer: Some(WriterInfo {
            open_by: OpenBy::Pid(4242),
            last_commit_us: Some(NOW - 3_000_000),
            last_record_us: Some(NOW - 3_000_000),
        }),
    }
}

/// The header of a listen with a tunnel.
pub fn listen_header() -> HeaderInfo {
    HeaderInfo {
        title: "listen".into(),
        public_urls: vec!["https://relay.example.com/t/myapp".into()],
        target: Some("http://127.0.0.1:5000".into()),
        tunnel: TunnelState::Online,
        queued_delivered: 2,
        dropped: 0,
        notice: None,
        writer: None,
    }
}
