//! Who may use the API: the bearer token, and no web pages but its own (by `Origin`, or by
//! a foreign `Host` from DNS rebinding).

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::{IpAddr, SocketAddr};

use subtle::ConstantTimeEq;

use super::State;
use super::reply::error;

fn is_loopback_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// True when `origin` is the API's own: `http://` and the address bound (or `localhost`,
/// or any host when bound to all addresses), on the port bound. A dev server on another
/// port of this machine is another origin.
fn is_own_origin(origin: &str, addr: SocketAddr) -> bool {
    let Some(authority) = origin
        .strip_prefix("http://")
        .and_then(|rest| rest.parse::<http::uri::Authority>().ok())
    else {
        return false;
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    port == addr.port()
        && (addr.ip().is_unspecified()
            || host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>() == Ok(addr.ip()))
}

/// Refuses requests a web page could have made: a browser names its page's origin, and
/// DNS rebinding shows up as a foreign `Host` on a loopback listener.
pub(super) fn check_access(
    state: &State,
    req: &Request<Incoming>,
) -> Option<Response<Full<Bytes>>> {
    if let Some(token) = &state.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token.bytes())) {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API token: send Authorization: Bearer <token>",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return Some(response);
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && !origin
            .to_str()
            .is_ok_and(|o| is_own_origin(o.trim(), state.addr))
    {
        return Some(error(
            StatusCode::FORBIDDEN,
            "requests from web pages other than the API's own are refused",
        ));
    }
    if state.loopback && state.token.is_none() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_loopback_host(host) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "the Host header must name this machine (127.0.0.1 or localhost)",
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apis_own_origin_is_accepted() {
        let addr: SocketAddr = "127.0.0.1:4748".parse().unwrap();
        for origin in [
            "http://127.0.0.1:4748",
            "http://localhost:4748",
            "http://LOCALHOST:4748",
        ] {
            assert!(is_own_origin(origin, addr), "{origin}");
        }
        for origin in [
            "http://127.0.0.1:3000",
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://127.0.0.1:4748",
            "http://evil.example:4748",
            "http://127.0.0.2:4748",
            "null",
            "",
        ] {
            assert!(!is_own_origin(origin, addr), "{origin}");
        }
        let v6: SocketAddr = "[::1]:4748".parse().unwrap();
        assert!(is_own_origin("http://[::1]:4748", v6));
        assert!(!is_own_origin("http://[::1]:4749", v6));
        let any: SocketAddr = "0.0.0.0:4748".parse().unwrap();
        assert!(is_own_origin("http://192.168.1.5:4748", any));
        assert!(!is_own_origin("http://192.168.1.5:8080", any));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "127.0.0.1:4748",
            "localhost",
            "LOCALHOST:1",
            "[::1]:4748",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:4748",
            "10.0.0.1",
            "127.0.0.1.evil.example",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
