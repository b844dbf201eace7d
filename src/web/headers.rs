//! Header rules every hop applies, the agent's forwarder and the relay alike: hop-by-hop
//! headers dropped (RFC 9110 §7.6.1), the `X-Forwarded-For` chain, headers as recorded.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::exchange::Header;

/// Headers as a list of (lowercase name, value bytes), in order.
pub fn header_list(headers: &HeaderMap) -> Vec<Header> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
        .collect()
}

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes hop-by-hop headers (RFC 9110 §7.6.1): the fixed set and those named by
/// `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names is cheaper than a removal (a hash
    // and a probe) for each of the fixed set.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The hop-by-hop headers every proxy drops, whether or not `Connection` names them.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// The `X-Forwarded-For` entry for a sender at `peer`.
pub fn forwarded_for(peer: SocketAddr) -> Option<HeaderValue> {
    HeaderValue::try_from(peer.ip().to_string()).ok()
}

/// Appends `entry` (from [`forwarded_for`]) to the `X-Forwarded-For` chain in `headers`,
/// or starts the chain with it.
pub fn add_forwarded_for(headers: &mut HeaderMap, entry: &HeaderValue) {
    let value = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(existing) => HeaderValue::try_from(format!(
            "{existing}, {}",
            entry.to_str().unwrap_or_default()
        ))
        .ok(),
        None => Some(entry.clone()),
    };
    if let Some(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// A version as the store and the tunnel write it (`HTTP/1.1`).
pub fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn hop_by_hop_headers_go_and_the_rest_stay_in_order() {
        let mut headers = map(&[
            ("x-a", "1"),
            ("te", "trailers"),
            ("x-a", "2"),
            ("upgrade", "h2c"),
            ("content-type", "application/json"),
        ]);
        strip_hop_by_hop(&mut headers);
        assert_eq!(
            headers,
            map(&[
                ("x-a", "1"),
                ("x-a", "2"),
                ("content-type", "application/json")
            ])
        );

        let mut plain = map(&[("x-a", "1"), ("content-length", "2")]);
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain, map(&[("x-a", "1"), ("content-length", "2")]));

        let mut named = map(&[
            ("connection", "x-private, keep-alive"),
            ("x-private", "p"),
            ("x-b", "b"),
        ]);
        strip_hop_by_hop(&mut named);
        assert_eq!(named, map(&[("x-b", "b")]));
    }
}
