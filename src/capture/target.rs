//! The forwarding target: `5000` or `http://localhost:5000/base`, and how request paths
//! are joined onto it.

use std::fmt;

use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Uri};

/// Where forwarded requests go: an `http://` origin plus an optional base path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    authority: Authority,
    base_path: String,
    /// `authority` as a `Host` header value, made once rather than per request.
    host: HeaderValue,
}

/// Why a TARGET argument was refused; the message names the accepted forms.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Neither a port number nor an http:// URL.
    #[error("'{0}' is neither a port (5000) nor an http:// URL (http://localhost:5000/base)")]
    Unrecognised(String),
    /// An https:// or other scheme.
    #[error(
        "'{0}': only http:// targets are supported; the app on your machine is usually plain HTTP"
    )]
    Scheme(String),
    /// A port outside 1..=65535.
    #[error("'{0}' is not a valid port: use a number from 1 to 65535")]
    Port(String),
}

impl Target {
    /// Parses a port (`5000`, forwarded to `127.0.0.1`) or an `http://` URL.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let port: u16 = text.parse().map_err(|_| TargetError::Port(text.into()))?;
            if port == 0 {
                return Err(TargetError::Port(text.into()));
            }
            let authority = Authority::try_from(format!("127.0.0.1:{port}"))
                .map_err(|_| TargetError::Port(text.into()))?;
            return Ok(Self::new(authority, String::new()));
        }
        let uri: Uri = text
            .parse()
            .map_err(|_| TargetError::Unrecognised(text.into()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(TargetError::Scheme(text.into())),
            None => return Err(TargetError::Unrecognised(text.into())),
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| TargetError::Unrecognised(text.into()))?;
        if authority.port_u16() == Some(0) {
            return Err(TargetError::Port(text.into()));
        }
        if uri.query().is_some() {
            return Err(TargetError::Unrecognised(text.into()));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Self::new(authority, base_path))
    }

    fn new(authority: Authority, base_path: String) -> Self {
        // An authority is visible ASCII, always a valid header value.
        let host = HeaderValue::from_str(authority.as_str())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        Self {
            authority,
            base_path,
            host,
        }
    }

    /// `host:port` to connect to and to send as `Host`.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// `authority` as a `Host` header value.
    pub fn host_header(&self) -> &HeaderValue {
        &self.host
    }

    /// The origin-form path to send a request for `pq` (as received) to, and the whole URL
    /// it names: what [`Target::join`] gives, without reparsing when there is no base path.
    pub fn route(&self, pq: &PathAndQuery) -> (PathAndQuery, String) {
        if self.base_path.is_empty() && pq.as_str().starts_with('/') {
            (pq.clone(), format!("http://{}{pq}", self.authority))
        } else {
            let uri = self.join(pq.as_str());
            let path = uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            (path, uri.to_string())
        }
    }

    /// The URI to send a request for `path_and_query` (as received) to.
    pub fn join(&self, path_and_query: &str) -> Uri {
        let pq = if path_and_query.starts_with('/') {
            format!("{}{}", self.base_path, path_and_query)
        } else {
            format!("{}/{}", self.base_path, path_and_query)
        };
        let pq = PathAndQuery::try_from(pq).unwrap_or_else(|_| PathAndQuery::from_static("/"));
        Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .expect("scheme, authority and path are each valid")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_targets_loopback() {
        let t = Target::parse("5000").unwrap();
        assert_eq!(t.to_string(), "http://127.0.0.1:5000");
        assert_eq!(
            t.join("/hook?x=1").to_string(),
            "http://127.0.0.1:5000/hook?x=1"
        );
    }

    #[test]
    fn a_url_keeps_its_base_path() {
        let t = Target::parse("http://localhost:5000/base/").unwrap();
        assert_eq!(
            t.join("/rest?a=b").to_string(),
            "http://localhost:5000/base/rest?a=b"
        );
        assert_eq!(t.join("/").to_string(), "http://localhost:5000/base/");
    }

    #[test]
    fn a_route_agrees_with_join_with_and_without_a_base_path() {
        for target in ["5000", "http://localhost:5000/base/"] {
            let t = Target::parse(target).unwrap();
            for pq in ["/hook?x=1", "/", "/a%20b/c?"] {
                let (path, url) = t.route(&PathAndQuery::from_static(pq));
                let joined = t.join(pq);
                assert_eq!(url, joined.to_string(), "{target} {pq}");
                assert_eq!(Some(&path), joined.path_and_query(), "{target} {pq}");
            }
            assert_eq!(t.host_header().to_str().unwrap(), t.authority().as_str());
        }
    }

    #[test]
    fn bad_targets_are_refused_with_the_reason() {
        assert!(matches!(
            Target::parse("abc"),
            Err(TargetError::Unrecognised(_))
        ));
        assert!(matches!(Target::parse("70000"), Err(TargetError::Port(_))));
        assert!(matches!(Target::parse("0"), Err(TargetError::Port(_))));
        assert!(matches!(
            Target::parse("https://x.test"),
            Err(TargetError::Scheme(_))
        ));
        assert!(Target::parse("localhost:5000").is_err());
    }
}
