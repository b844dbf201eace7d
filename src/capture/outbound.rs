//! The headers a request carries to the app: hop-by-hop ones dropped, the sender named in
//! `X-Forwarded-*`, and the app's own address as `Host`.

use http::header::{self, HeaderMap, HeaderValue};

use super::meta::RequestMeta;
use super::target::Target;
use crate::web::headers::{
    X_FORWARDED_HOST, X_FORWARDED_PROTO, add_forwarded_for, strip_hop_by_hop,
};

pub(super) fn prepare_outbound_headers(
    headers: &mut HeaderMap,
    target: &Target,
    meta: &RequestMeta,
) {
    let original_host = headers.get(header::HOST).cloned();
    strip_hop_by_hop(headers);
    if let Some(entry) = &meta.forwarded_for {
        add_forwarded_for(headers, entry);
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if let Some(host) = original_host
        && !headers.contains_key(X_FORWARDED_HOST)
    {
        headers.insert(X_FORWARDED_HOST, host);
    }
    // The app sees its own address as Host, as it would without hooktap in between:
    // frameworks that check allowed hosts accept localhost but not a relay's name.
    headers.insert(header::HOST, target.host_header().clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Source;
    use crate::web::headers::forwarded_for;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn outbound_headers_name_the_sender_and_the_app_as_host() {
        let target = Target::parse("5000").unwrap();
        let mut meta = RequestMeta::new(Source::Local);
        meta.forwarded_for = forwarded_for("127.0.0.9:40000".parse().unwrap());

        let mut first = map(&[("host", "example.test")]);
        prepare_outbound_headers(&mut first, &target, &meta);
        assert_eq!(first["x-forwarded-for"], "127.0.0.9");
        assert_eq!(first["x-forwarded-host"], "example.test");
        assert_eq!(first["x-forwarded-proto"], "http");
        assert_eq!(first["host"], "127.0.0.1:5000");

        let mut chained = map(&[("host", "h"), ("x-forwarded-for", "10.0.0.1")]);
        prepare_outbound_headers(&mut chained, &target, &meta);
        assert_eq!(chained["x-forwarded-for"], "10.0.0.1, 127.0.0.9");
    }
}
