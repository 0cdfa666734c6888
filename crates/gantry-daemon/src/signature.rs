//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 is not sha256=<64 hex digits>")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
}

/// The header value GitHub sends for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// Checks `header` against every candidate secret and returns the index of the one that signed
/// the body. Each comparison is constant-time (`Mac::verify_slice`).
pub fn verify_any(
    secrets: &[&str],
    body: &[u8],
    header: Option<&str>,
) -> Result<usize, SignatureError> {
    let expected = decode(header.ok_or(SignatureError::Missing)?)?;
    // Every secret is tried even after a match, so timing does not reveal which one matched.
    let mut found = None;
    for (i, secret) in secrets.iter().enumerate() {
        if mac(secret.as_bytes(), body).verify_slice(&expected).is_ok() && found.is_none() {
            found = Some(i);
        }
    }
    found.ok_or(SignatureError::Mismatch)
}

/// Checks `header` for `body` signed with `secret`.
pub fn verify(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    verify_any(&[secret], body, header).map(|_| ())
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode(header: &str) -> Result<Vec<u8>, SignatureError> {
    let digits = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let bytes = hex::decode(digits).map_err(|_| SignatureError::Malformed)?;
    if bytes.len() == 32 {
        Ok(bytes)
    } else {
        Err(SignatureError::Malformed)
    }
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB_VECTOR: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_test_vector_passes() {
        let secret = "It's a Secret to Everybody";
        assert_eq!(sign(secret.as_bytes(), b"Hello, World!"), GITHUB_VECTOR);
        assert_eq!(
            verify(secret, b"Hello, World!", Some(GITHUB_VECTOR)),
            Ok(())
        );
    }

    #[test]
    fn wrong_secret_body_or_format_fail() {
        let secret = "It's a Secret to Everybody";
        let cases = [
            (secret, "Hello, World!", None, SignatureError::Missing),
            (
                "other",
                "Hello, World!",
                Some(GITHUB_VECTOR),
                SignatureError::Mismatch,
            ),
            (
                secret,
                "Hello, World?",
                Some(GITHUB_VECTOR),
                SignatureError::Mismatch,
            ),
            (
                secret,
                "Hello, World!",
                Some("sha1=abc"),
                SignatureError::Malformed,
            ),
            (
                secret,
                "Hello, World!",
                Some("sha256=zz"),
                SignatureError::Malformed,
            ),
            (
                secret,
                "Hello, World!",
                Some("sha256=abcd"),
                SignatureError::Malformed,
            ),
        ];
        for (secret, body, header, want) in cases {
            assert_eq!(
                verify(secret, body.as_bytes(), header),
                Err(want),
                "{header:?}"
            );
        }
    }

    #[test]
    fn verify_any_names_the_matching_secret() {
        let secrets = ["a", "It's a Secret to Everybody", "c"];
        assert_eq!(
            verify_any(&secrets, b"Hello, World!", Some(GITHUB_VECTOR)),
            Ok(1)
        );
    }
}
