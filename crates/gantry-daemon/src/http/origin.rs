//! Parsing of `Host` and `Origin` values, for the allowed-hosts and same-origin checks.

use std::net::IpAddr;

/// The host name of an authority (`name`, `name:port`, `[::1]:8080`), lowercased, without
/// the port; `None` when it is not a plausible host.
pub(crate) fn host_name(authority: &str) -> Option<String> {
    split_authority(authority).map(|(host, _)| host)
}

/// An authority's host (lowercased, IPv6 in brackets) and port.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() || !host.chars().all(valid) {
            return None;
        }
        (host.to_owned(), port)
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// Whether `host` (as [`host_name`] returns it) is an IP literal. DNS rebinding always
/// presents the attacker's domain name, so an address is never the attacker's Host.
pub(crate) fn is_ip_literal(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok()
}

/// An origin (`http://name[:port]`, `https://...`) normalized: lowercase, default port
/// dropped. `None` for anything else (`null`, other schemes, paths).
pub(crate) fn parse_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let (host, port) = split_authority(authority)?;
    Some(match port.filter(|p| *p != default_port) {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The authority part of a normalized origin (`name[:port]`), to compare with `Host`.
pub(crate) fn origin_authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port_and_case() {
        assert_eq!(
            host_name("Example.COM:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_name("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("a b"), None);
        assert_eq!(host_name("x:notaport"), None);
        assert_eq!(host_name("[nope]"), None);
        assert!(is_ip_literal("[::1]") && is_ip_literal("10.0.0.1"));
        assert!(!is_ip_literal("rebind.example"));
    }

    #[test]
    fn origins_are_normalized() {
        let cases = [
            ("https://Ops.Example.com", Some("https://ops.example.com")),
            (
                "https://ops.example.com:443/",
                Some("https://ops.example.com"),
            ),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            ("http://[::1]:8080", Some("http://[::1]:8080")),
            ("http://[::1]", Some("http://[::1]")),
            ("null", None),
            ("ftp://x", None),
            ("https://x/path", None),
            ("https://user@x", None),
        ];
        for (origin, want) in cases {
            assert_eq!(parse_origin(origin).as_deref(), want, "{origin}");
        }
        assert_eq!(origin_authority("http://a:1"), "a:1");
    }
}
