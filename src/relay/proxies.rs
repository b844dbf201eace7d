//! Trusted front proxies (`--trusted-proxy`): behind nginx or Caddy every sender's TCP
//! peer is the proxy, so the per-address limits would lump all senders together. When the
//! TCP peer is trusted, the sender's address is the right-most `X-Forwarded-For` entry
//! that is not itself a trusted proxy (each proxy appends the address it saw, so entries
//! left of the first untrusted one may be forged by the sender).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::HeaderMap;

/// An address or a CIDR block of front proxies (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// True when `addr` is in this block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, canonical(addr)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for TrustedProxy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| {
            format!("'{text}' is not an IP address or CIDR block (10.0.0.1, 10.0.0.0/8, fd00::/8)")
        })?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{text}': the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The sender's address: `peer`, or, when `peer` is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not trusted (the left-most entry when all are). A
/// header that cannot be read (an entry that is not an IP address) gives `peer`. The
/// port stays the TCP connection's.
pub fn sender_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> SocketAddr {
    let is_trusted = |addr: IpAddr| trusted.iter().any(|t| t.contains(addr));
    if !is_trusted(peer.ip()) {
        return peer;
    }
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.split(',') {
            match parse_entry(entry) {
                Some(addr) => entries.push(addr),
                None => return peer,
            }
        }
    }
    let sender = entries
        .iter()
        .rev()
        .find(|addr| !is_trusted(**addr))
        .or(entries.first());
    sender.map_or(peer, |ip| SocketAddr::new(canonical(*ip), peer.port()))
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(addr);
    }
    entry.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn sender(peer: &str, xff: &[&str], trusted: &[&str]) -> String {
        let peer: SocketAddr = peer.parse().unwrap();
        sender_addr(peer, &headers(xff), &proxies(trusted))
            .ip()
            .to_string()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let block: TrustedProxy = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains("10.1.200.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let all: TrustedProxy = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", ""] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sender_is_the_right_most_untrusted_entry_behind_a_trusted_peer() {
        let trusted = ["127.0.0.1", "10.0.0.0/8"];
        let peer = "127.0.0.1:4000";
        assert_eq!(sender(peer, &["203.0.113.7"], &trusted), "203.0.113.7");
        // The sender's own (forged) entries sit left of the one the proxy appended.
        assert_eq!(
            sender(peer, &["6.6.6.6, 203.0.113.7, 10.0.0.2"], &trusted),
            "203.0.113.7"
        );
        assert_eq!(
            sender(peer, &["6.6.6.6", "203.0.113.7:5123"], &trusted),
            "203.0.113.7"
        );
        assert_eq!(sender(peer, &["10.0.0.3, 10.0.0.2"], &trusted), "10.0.0.3");
        // No header, or one that cannot be read: the TCP peer.
        assert_eq!(sender(peer, &[], &trusted), "127.0.0.1");
        assert_eq!(sender(peer, &["203.0.113.7, junk"], &trusted), "127.0.0.1");
        // An untrusted peer's header is ignored.
        assert_eq!(
            sender("198.51.100.1:1", &["203.0.113.7"], &trusted),
            "198.51.100.1"
        );
        assert_eq!(sender(peer, &["203.0.113.7"], &[]), "127.0.0.1");
    }
}
