//! What a webhook's headers (and the repository name in its payload) may hold before anything
//! of it is stored.
//!
//! The delivery id is the dedupe key: an empty one must not be replaced by an invented id (a
//! redelivery would then run again), and the id, the event name and the repository name are
//! stored and shown on the page, so they are bounded in length and characters. GitHub sends a
//! GUID (`72d3162e-cc78-11e3-81ab-4c9367dc0958`), lowercase event names (`pull_request`) and
//! `owner/name` with GitHub's own name rules (owner up to 39 characters, repository up to 100).

use axum::http::HeaderMap;
use thiserror::Error;

/// Longest delivery id accepted. A GUID is 36 characters; room is left for ids made by other
/// senders (scripts, GitHub Enterprise, tests) that keep to the same characters.
pub const MAX_DELIVERY_ID: usize = 64;
/// Longest event name accepted (GitHub's longest is `pull_request_review_comment`, 27).
pub const MAX_EVENT: usize = 64;
/// Longest `repository.full_name` accepted: a 39-character owner, `/`, a 100-character name.
pub const MAX_REPO_NAME: usize = 140;

const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
const EVENT_HEADER: &str = "X-GitHub-Event";

/// Why a delivery's headers were refused (400, nothing stored).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error(
        "missing {0} header (GitHub sends one with every delivery; it is how redeliveries are recognised)"
    )]
    Missing(&'static str),
    #[error("the {0} header is empty")]
    Empty(&'static str),
    #[error("the {name} header is {len} bytes long; at most {max} are accepted")]
    TooLong {
        name: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the {name} header may hold only {allowed}")]
    Characters {
        name: &'static str,
        allowed: &'static str,
    },
    #[error("repository.full_name is {0} bytes long; at most {MAX_REPO_NAME} are accepted")]
    RepoTooLong(usize),
    #[error("repository.full_name must be owner/name with letters, digits, '.', '_' and '-' only")]
    RepoName,
}

/// The stored headers of a delivery, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeaders {
    pub event: String,
    pub delivery: String,
}

/// Reads and checks `X-GitHub-Event` and `X-GitHub-Delivery`.
pub fn read(headers: &HeaderMap) -> Result<DeliveryHeaders, HeaderError> {
    let event = bounded(
        headers,
        EVENT_HEADER,
        MAX_EVENT,
        "lowercase letters, digits and '_'",
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_',
    )?;
    let delivery = bounded(
        headers,
        DELIVERY_HEADER,
        MAX_DELIVERY_ID,
        "letters, digits and '-' (GitHub sends a GUID)",
        |c| c.is_ascii_alphanumeric() || c == b'-',
    )?;
    Ok(DeliveryHeaders { event, delivery })
}

fn bounded(
    headers: &HeaderMap,
    name: &'static str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(u8) -> bool,
) -> Result<String, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(HeaderError::Missing(name))?;
    // Two values would leave it open which one is the delivery.
    if values.next().is_some() {
        return Err(HeaderError::Characters { name, allowed });
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(HeaderError::Empty(name));
    }
    if bytes.len() > max {
        return Err(HeaderError::TooLong {
            name,
            len: bytes.len(),
            max,
        });
    }
    if !bytes.iter().all(|&c| ok(c)) {
        return Err(HeaderError::Characters { name, allowed });
    }
    // Only ASCII got through.
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Checks the payload's `repository.full_name`, which is stored with the delivery.
pub fn check_repo_name(name: &str) -> Result<(), HeaderError> {
    if name.len() > MAX_REPO_NAME {
        return Err(HeaderError::RepoTooLong(name.len()));
    }
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    };
    match name.split_once('/') {
        Some((owner, repo)) if part_ok(owner) && part_ok(repo) => Ok(()),
        _ => Err(HeaderError::RepoName),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A header's bytes, or `None` to leave it out.
    type Header<'a> = Option<&'a [u8]>;

    fn headers(event: Option<&[u8]>, delivery: Option<&[u8]>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(e) = event {
            map.insert(EVENT_HEADER, HeaderValue::from_bytes(e).unwrap());
        }
        if let Some(d) = delivery {
            map.insert(DELIVERY_HEADER, HeaderValue::from_bytes(d).unwrap());
        }
        map
    }

    #[test]
    fn github_headers_are_accepted() {
        let read = read(&headers(
            Some(b"pull_request_review_comment"),
            Some(b"72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ))
        .unwrap();
        assert_eq!(read.event, "pull_request_review_comment");
        assert_eq!(read.delivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    }

    #[test]
    fn hostile_headers_are_refused_with_the_reason() {
        let long = vec![b'a'; 8192];
        let cases: Vec<(Header, Header, HeaderError)> = vec![
            (Some(b"push"), None, HeaderError::Missing(DELIVERY_HEADER)),
            (None, Some(b"d-1"), HeaderError::Missing(EVENT_HEADER)),
            (
                Some(b"push"),
                Some(b""),
                HeaderError::Empty(DELIVERY_HEADER),
            ),
            (
                Some(b"push"),
                Some(&long),
                HeaderError::TooLong {
                    name: DELIVERY_HEADER,
                    len: 8192,
                    max: MAX_DELIVERY_ID,
                },
            ),
            (
                Some(b"push"),
                Some(b"<script>alert(1)</script>"),
                HeaderError::Characters {
                    name: DELIVERY_HEADER,
                    allowed: "letters, digits and '-' (GitHub sends a GUID)",
                },
            ),
            (
                Some(b"push"),
                Some(b"a b"),
                HeaderError::Characters {
                    name: DELIVERY_HEADER,
                    allowed: "letters, digits and '-' (GitHub sends a GUID)",
                },
            ),
            (
                Some("pus\u{e9}".as_bytes()),
                Some(b"d-1"),
                HeaderError::Characters {
                    name: EVENT_HEADER,
                    allowed: "lowercase letters, digits and '_'",
                },
            ),
            (
                Some(&long),
                Some(b"d-1"),
                HeaderError::TooLong {
                    name: EVENT_HEADER,
                    len: 8192,
                    max: MAX_EVENT,
                },
            ),
        ];
        for (event, delivery, expected) in cases {
            assert_eq!(read(&headers(event, delivery)), Err(expected));
        }
        let mut twice = headers(Some(b"push"), Some(b"d-1"));
        twice.append(DELIVERY_HEADER, HeaderValue::from_static("d-2"));
        assert!(read(&twice).is_err());
    }

    #[test]
    fn repository_names_follow_github_rules() {
        assert_eq!(check_repo_name("Codertocat/Hello-World"), Ok(()));
        assert_eq!(check_repo_name("a.b/c_d-e.f"), Ok(()));
        for bad in ["", "a", "/b", "a/", "a/b/c", "a/<script>", "a b/c", "a/b\n"] {
            assert_eq!(check_repo_name(bad), Err(HeaderError::RepoName), "{bad:?}");
        }
        let long = format!("{}/{}", "o".repeat(39), "r".repeat(101));
        assert_eq!(check_repo_name(&long), Err(HeaderError::RepoTooLong(141)));
    }
}
