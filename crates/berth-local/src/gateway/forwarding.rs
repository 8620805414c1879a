//! What a reverse proxy changes on the way through (RFC 9110 §7.6.1): the
//! hop-by-hop headers of each side stay on that side, the upstream learns who
//! asked (`X-Forwarded-For`, `-Proto`, `-Host`), and a path is routed only once
//! its dot segments are resolved, so that `/rw/../../admin` is `/admin`.

use std::net::SocketAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never the message.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes the hop-by-hop headers, and those that `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Adds the client's address to `X-Forwarded-For` and, when the client did not
/// come through a proxy already, the protocol and host it asked for.
pub fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr) {
    let client = peer.ip().to_string();
    let chain = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client,
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert("x-forwarded-for", value);
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    if !headers.contains_key("x-forwarded-host")
        && let Some(host) = headers.get(header::HOST).cloned()
    {
        headers.insert("x-forwarded-host", host);
    }
}

/// The path with `.` and `..` segments resolved (RFC 3986 §5.2.4), also when
/// written as `%2e`; `..` never climbs above the root.
pub fn resolve_dots(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = path.split('/').skip(1).peekable();
    let mut trailing = false;
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        match decoded_dots(part) {
            Some(1) => trailing = last,
            Some(2) => {
                segments.pop();
                trailing = last;
            }
            _ => {
                segments.push(part);
                trailing = false;
            }
        }
    }
    let mut resolved = String::with_capacity(path.len());
    for segment in &segments {
        resolved.push('/');
        resolved.push_str(segment);
    }
    if trailing || resolved.is_empty() {
        resolved.push('/');
    }
    resolved
}

/// 1 for a segment that is `.`, 2 for `..`, in any mix of `.` and `%2e`.
fn decoded_dots(segment: &str) -> Option<usize> {
    let mut rest = segment;
    let mut dots = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            rest = after;
        } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case("%2e") {
            rest = &rest[3..];
        } else {
            return None;
        }
        dots += 1;
    }
    (1..=2).contains(&dots).then_some(dots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_resolve_and_never_climb_above_the_root() {
        assert_eq!(resolve_dots("/rw/../../admin"), "/admin");
        assert_eq!(resolve_dots("/a/./b/../c"), "/a/c");
        assert_eq!(resolve_dots("/a/%2e%2E/b"), "/b");
        assert_eq!(resolve_dots("/a/.%2e/b"), "/b");
        assert_eq!(resolve_dots("/a/b/.."), "/a/");
        assert_eq!(resolve_dots("/"), "/");
        assert_eq!(resolve_dots("/.."), "/");
        assert_eq!(resolve_dots("/a/...b/c/"), "/a/...b/c/");
        assert_eq!(resolve_dots("/api//x"), "/api//x");
    }

    #[test]
    fn hop_by_hop_headers_stay_on_their_side() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, x-secret"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            "proxy-authorization",
            HeaderValue::from_static("Basic eA=="),
        );
        headers.insert("upgrade", HeaderValue::from_static("h2c"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("accept"));
    }

    #[test]
    fn forwarded_headers_name_the_client() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("localhost:8080"));
        add_forwarded(&mut headers, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "localhost:8080");
        add_forwarded(&mut headers, "10.0.0.2:5000".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1, 10.0.0.2");
    }
}
