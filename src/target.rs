//! The forwarding target: `5000` or `http://localhost:5000/base`, and how request paths
//! are joined onto it.

use std::fmt;

use http::Uri;
use http::uri::{Authority, PathAndQuery};

/// Where forwarded requests go: an `http://` origin plus an optional base path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    authority: Authority,
    base_path: String,
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
            return Ok(Self {
                authority: Authority::try_from(format!("127.0.0.1:{port}"))
                    .map_err(|_| TargetError::Port(text.into()))?,
                base_path: String::new(),
            });
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
        Ok(Self {
            authority,
            base_path,
        })
    }

    /// `host:port` to connect to and to send as `Host`.
    pub fn authority(&self) -> &Authority {
        &self.authority
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
