//! What hyper lets through but a front proxy could read differently: each is refused
//! (400, or 501 for a transfer coding the relay does not know) before routing, so such a
//! request reaches no agent (RFC 9112 §3.2, §6.1).

use http::{HeaderMap, Request, StatusCode, Version, header};

/// Why a request head is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// The status to answer.
    pub status: StatusCode,
    /// One sentence for the sender.
    pub message: &'static str,
}

fn bad(message: &'static str) -> Refused {
    Refused {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

/// Checks the request's `Host` and framing; returns the host the request is for.
pub fn check<B>(req: &Request<B>) -> Result<String, Refused> {
    let headers = req.headers();
    check_transfer_encoding(headers)?;
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(bad("the request has more than one Host header")),
        (Some(value), None) => {
            let text = value
                .to_str()
                .map_err(|_| bad("the Host header is not a valid host"))?;
            valid_host(text)?;
            Some(text.to_ascii_lowercase())
        }
        (None, _) => None,
    };
    let absolute = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_ascii_lowercase());
    match (host, absolute) {
        (Some(host), Some(absolute)) if host != absolute => Err(bad(
            "the request's absolute URI names another host than its Host header",
        )),
        (Some(host), _) => Ok(host),
        (None, Some(absolute)) => {
            valid_host(&absolute)?;
            Ok(absolute)
        }
        (None, None) if req.version() == Version::HTTP_10 => Ok(String::new()),
        (None, None) => Err(bad("the request has no Host header")),
    }
}

/// A host as RFC 9110 §7.2 has it: a name or address, and an optional port of 1-65535.
fn valid_host(text: &str) -> Result<(), Refused> {
    let invalid = || bad("the Host header is not a valid host");
    if text.is_empty() || text.contains(['@', '/', '?', '#', ' ', '\\']) {
        return Err(invalid());
    }
    let (name, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (literal, after) = rest.split_once(']').ok_or_else(invalid)?;
            literal
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid())?;
            match after {
                "" => ("x", None),
                _ => ("x", Some(after.strip_prefix(':').ok_or_else(invalid)?)),
            }
        }
        None => match text.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        },
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// One `Transfer-Encoding: chunked`, nothing else: hyper takes any list ending in
/// `chunked` (`identity, chunked`), which another parser may frame differently.
fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), Refused> {
    let mut codings = Vec::new();
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let text = value
            .to_str()
            .map_err(|_| bad("the Transfer-Encoding header is not valid"))?;
        codings.extend(text.split(',').map(|c| c.trim().to_ascii_lowercase()));
    }
    match codings.as_slice() {
        [] => Ok(()),
        [only] if only == "chunked" => Ok(()),
        list if list
            .iter()
            .all(|c| c == "chunked" || c == "identity" || c.is_empty()) =>
        {
            Err(bad(
                "the request's Transfer-Encoding must be exactly `chunked`",
            ))
        }
        _ => Err(Refused {
            status: StatusCode::NOT_IMPLEMENTED,
            message: "the relay supports no transfer coding but `chunked`",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::get(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn hosts_and_codings_are_checked() {
        fn ok(uri: &str, headers: &[(&str, &str)]) -> Result<String, u16> {
            check(&request(uri, headers)).map_err(|r| r.status.as_u16())
        }
        assert_eq!(
            ok("/t/a/", &[("host", "Relay.test:8080")]),
            Ok("relay.test:8080".into())
        );
        assert_eq!(ok("/t/a/", &[("host", "[::1]:80")]), Ok("[::1]:80".into()));
        assert_eq!(ok("/t/a/", &[]), Err(400));
        assert_eq!(ok("/t/a/", &[("host", "a"), ("host", "a")]), Err(400));
        for host in [
            "a:", "a:99999", "a:0", "a:8x", "u@a", "a b", "[::1", "[zz]:1",
        ] {
            assert_eq!(ok("/t/a/", &[("host", host)]), Err(400), "{host}");
        }
        assert_eq!(ok("http://a/t/a/", &[("host", "b")]), Err(400));
        assert_eq!(ok("http://A/t/a/", &[("host", "a")]), Ok("a".into()));
        let te = |value: &str| ok("/", &[("host", "a"), ("transfer-encoding", value)]);
        assert_eq!(te("chunked"), Ok("a".into()));
        assert_eq!(te("identity, chunked"), Err(400));
        assert_eq!(te("chunked, chunked"), Err(400));
        assert_eq!(te("gzip, chunked"), Err(501));
    }
}
